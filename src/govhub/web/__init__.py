"""Portal plumbing: templates, static assets, security headers and language choice."""
