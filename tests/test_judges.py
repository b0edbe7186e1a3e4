"""Event judges: keywords, embedding (a real pretrained encoder) and llm (a real local HTTP server)."""

import time

import pytest
from judge_server import JudgeServer, closed_port_url

from pebench.config import EvalConfig, LLMJudgeConfig
from pebench.core.errors import PebenchError
from pebench.data.events import all_events
from pebench.eval.judges import JUDGES, make_judge
from pebench.eval.judges.llm import judge_prompt, parse_score

EVENTS = all_events()


def _llm_cfg(url: str, **kw) -> EvalConfig:
    return EvalConfig(judge="llm", llm=LLMJudgeConfig(url=url, model="judge-test", backoff_s=0.01, **kw))


def test_every_judge_is_registered():
    assert {"keywords", "embedding", "llm"} <= set(JUDGES.names())


def test_embedding_judge_ranks_the_true_description_first():
    judge = make_judge("embedding")
    own = judge.score([e.description for e in EVENTS], EVENTS)
    assert all(s == pytest.approx(1.0, abs=1e-4) for s in own)
    others = judge.score([EVENTS[(i + 1) % 40].description for i in range(40)], EVENTS)
    assert max(others) < 0.95 and sum(others) / 40 < 0.5
    refusal = judge.score(["I cannot describe this scene."] * 3, EVENTS[:3])
    assert all(0 <= s < 0.4 for s in refusal)


def test_embedding_judge_refuses_a_folder_without_safetensors(tmp_path):
    with pytest.raises(PebenchError, match="no .safetensors"):
        make_judge("embedding", EvalConfig(embedding_model=str(tmp_path)))


def test_parse_score():
    assert parse_score("5") == 1.0 and parse_score("Score: 3/5") == 0.5 and parse_score(" 1") == 0.0
    with pytest.raises(PebenchError, match="no score"):
        parse_score("excellent")


def test_llm_judge_scores_through_a_local_endpoint_and_sends_the_key(tmp_path, monkeypatch):
    monkeypatch.setenv("PEBENCH_TEST_KEY", "sk-test-123")
    ev = EVENTS[:4]
    answers = [f"A scene with {e.keywords[0]} and people." for e in ev] + ["Nothing to see here."] * 4
    with JudgeServer() as server:
        judge = make_judge("llm", _llm_cfg(server.url, api_key_env="PEBENCH_TEST_KEY"), tmp_path)
        scores = judge.score(answers, ev + ev)
    assert scores == [1.0] * 4 + [0.0] * 4
    assert len(server.requests) == 8
    first = server.requests[0]
    assert first["path"] == "/v1/chat/completions"
    assert first["headers"]["Authorization"] == "Bearer sk-test-123"
    assert first["body"]["model"] == "judge-test" and first["body"]["temperature"] == 0


def test_llm_judge_cache_makes_a_rerun_free(tmp_path):
    answers, ev = [e.description for e in EVENTS[:5]], EVENTS[:5]
    with JudgeServer() as server:
        first = make_judge("llm", _llm_cfg(server.url), tmp_path).score(answers, ev)
        again = make_judge("llm", _llm_cfg(server.url), tmp_path)
        assert again.score(answers, ev) == first
    assert len(server.requests) == 5 and again.requests == 0
    assert (tmp_path / "llm-judge.jsonl").is_file()


def test_llm_judge_retries_transient_errors(tmp_path):
    with JudgeServer(fail_first=2) as server:
        judge = make_judge("llm", _llm_cfg(server.url, retries=3, concurrency=1), tmp_path)
        assert judge.score([EVENTS[0].description], [EVENTS[0]]) == [1.0]
    assert len(server.requests) == 3


def test_llm_judge_down_is_a_clear_error(tmp_path):
    judge = make_judge("llm", _llm_cfg(closed_port_url(), retries=2), tmp_path)
    start = time.perf_counter()
    with pytest.raises(PebenchError, match=r"LLM judge endpoint .* failed after 3 tries"):
        judge.score([EVENTS[0].description], [EVENTS[0]])
    assert time.perf_counter() - start < 5
    assert not (tmp_path / "llm-judge.jsonl").exists()


def test_llm_judge_does_not_retry_an_auth_failure(tmp_path):
    with JudgeServer(fail_first=5, status=401) as server:
        with pytest.raises(PebenchError, match="HTTP 401"):
            make_judge("llm", _llm_cfg(server.url, retries=3), tmp_path).score(["x"], [EVENTS[0]])
    assert len(server.requests) == 1


def test_judge_prompt_holds_the_event_and_the_answer():
    prompt = judge_prompt("A crowd at night.", EVENTS[3])
    assert EVENTS[3].name in prompt and EVENTS[3].description in prompt and "A crowd at night." in prompt


def test_llm_url_must_be_http():
    with pytest.raises(ValueError):
        LLMJudgeConfig(url="ftp://example.org")
