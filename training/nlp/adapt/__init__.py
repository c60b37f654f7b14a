"""Fine-tuning the encoder on the CPU: training data, threads, the training loop and one run end to end."""
