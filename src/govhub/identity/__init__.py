"""Digital ID (plan 5.1): accounts, sessions, 2FA, assurance levels, OIDC provider, audit."""
