"""Research adapters: the parameter-search engine (Optuna) and its storage."""
