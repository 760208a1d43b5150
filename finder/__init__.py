"""finder: learning-rate range test and schedule auto-tuning for Keras 3."""
