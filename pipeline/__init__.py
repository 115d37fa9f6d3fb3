"""The newsmon command, its options and the pipeline graphs."""
