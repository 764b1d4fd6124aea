//! Ollama's native API (`POST /api/chat`, `GET /api/tags`).
