"""Test support: fake upstream provider servers (fake_openai, fake_anthropic, fake_gemini),
wire-format validators on the official SDKs' models (specs), the captured client traffic
(captures) and pytest fixtures (fixtures). Not collected as tests."""
