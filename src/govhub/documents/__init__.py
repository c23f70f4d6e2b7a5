"""E-documents: Thai e-licenses and e-receipts rendered to PDF, signed (PAdES, JWS) and checked."""
