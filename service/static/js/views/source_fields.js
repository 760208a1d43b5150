// The new-job form's "Model and data" fieldset: a built-in or an uploaded file for each. Files are
// uploaded when the form is submitted, before the job request that names their upload ids.

import * as api from "../api.js";
import { h } from "../dom.js";
import { input, select } from "./form_fields.js";

const UPLOAD = "upload";

/** The fieldset, and `read(status)`: `{model, data}` for the request (uploading what was
 * chosen), or null when a file is missing or refused (the error is then at its field). */
export function sourcesFieldset(fields, builtins) {
  const modelSelect = select(
    [
      ...builtins.models.map((m) => [`builtin:${m.name}`, m.name]),
      [UPLOAD, "Upload a .keras model…"],
    ],
    "builtin:fashion_cnn",
  );
  const dataSelect = select(
    [
      ...builtins.datasets.map((d) => [
        `builtin:${d.name}`,
        `${d.name}${d.available ? "" : " (not installed)"}`,
        !d.available,
      ]),
      [UPLOAD, "Upload an .npz dataset…"],
    ],
    "builtin:fashion_mnist_sample",
  );
  const modelFile = input({ type: "file", accept: ".keras" });
  const dataFile = input({ type: "file", accept: ".npz" });
  const element = h(
    "fieldset",
    {},
    h("legend", {}, "Model and data"),
    h(
      "div",
      { class: "grid-2" },
      fields.add("model", "Model", modelSelect, " "),
      fields.add("data", "Data", dataSelect, " "),
    ),
    h(
      "div",
      { class: "grid-2" },
      fields.add(
        "model_file",
        "Model file (.keras)",
        modelFile,
        "Checked, then loaded in safe mode.",
      ),
      fields.add(
        "data_file",
        "Dataset file (.npz)",
        dataFile,
        "x_train, y_train and optionally x_val, y_val; no pickles.",
      ),
    ),
  );

  const descriptions = new Map(
    [...builtins.models, ...builtins.datasets].map((b) => [`builtin:${b.name}`, b.description]),
  );
  const sync = () => {
    for (const [path, control, uploadHelp] of [
      ["model", modelSelect, "A Keras v3 .keras file."],
      ["data", dataSelect, "An .npz file."],
    ]) {
      fields.wrapper(path).querySelector(".help").textContent =
        descriptions.get(control.value) || uploadHelp;
    }
    fields.wrapper("model_file").hidden = modelSelect.value !== UPLOAD;
    fields.wrapper("data_file").hidden = dataSelect.value !== UPLOAD;
  };
  for (const control of [modelSelect, dataSelect]) control.addEventListener("change", sync);
  sync();

  const read = async (status) => {
    const model = await source("model", modelSelect.value, modelFile, fields, status);
    const data = model && (await source("data", dataSelect.value, dataFile, fields, status));
    return model && data ? { model, data } : null;
  };
  return { element, read };
}

async function source(kind, choice, file, fields, status) {
  if (choice !== UPLOAD) return { builtin: choice.slice("builtin:".length) };
  const path = `${kind}_file`;
  const chosen = file.files[0];
  if (!chosen) {
    fields.setError(path, "Choose a file to upload.").focus();
    return null;
  }
  status.textContent = `Uploading ${chosen.name}…`;
  try {
    const upload =
      kind === "model" ? await api.uploadModel(chosen) : await api.uploadDataset(chosen);
    return { upload_id: upload.upload_id };
  } catch (error) {
    // A refused file is this field's error; anything else is the form's.
    if (
      !(error instanceof api.ApiError) ||
      error instanceof api.AuthError ||
      error.validationErrors.length
    ) {
      throw error;
    }
    fields.setError(path, error.message).focus();
    status.textContent = "";
    return null;
  }
}
