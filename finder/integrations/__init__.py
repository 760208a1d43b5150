"""finder's results where Keras users already look: TensorBoard event files
(`finder.integrations.tensorboard`) and MLflow runs (`finder.integrations.mlflow`, an optional
extra). Each module imports its tool only when called, so that neither is needed to import
finder.
"""
