SECRET_KEY=dev-only
