"""Test support: fake upstream provider servers (fake_openai, fake_anthropic, fake_gemini),
spec validators (specs) and pytest fixtures (fixtures). Not collected as tests."""
