"""The interactive shell (`dataos shell`): the OS metaphor over the data, SQL at the prompt, scripts."""
