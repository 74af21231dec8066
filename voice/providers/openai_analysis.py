"""Post-call analysis on OpenAI's structured outputs (`response_format` json_schema, strict), official SDK.

Synchronous (`openai.OpenAI`): it runs in a Celery task. One request per attempt, no SDK retry: the caller
decides (it retries a reply that breaks the schema once). A request that takes longer than `timeout_s` is
given up as `ProviderError(permanent=False)`.
"""

from dataclasses import dataclass

import httpx2
import openai

from voice.providers.analysis import AnalysisReply, AnalysisRequest, CallAnalyzer, analysis_prompt
from voice.providers.base import ProviderError
from voice.providers.speech import classify_status


@dataclass(frozen=True)
class OpenAIAnalysisOptions:
    api_key: str
    base_url: str = ""
    model: str = "gpt-4o-mini"
    timeout_s: float = 60.0
    connect_timeout_s: float = 5.0


class OpenAICallAnalyzer(CallAnalyzer):
    name = "openai"

    def __init__(self, options: OpenAIAnalysisOptions) -> None:
        self._options = options
        self._client = openai.OpenAI(
            api_key=options.api_key,
            base_url=options.base_url or None,
            timeout=httpx2.Timeout(options.timeout_s, connect=options.connect_timeout_s),
            max_retries=0,
        )

    def analyze(self, request: AnalysisRequest) -> AnalysisReply:
        model = request.model or self._options.model
        try:
            response = self._client.chat.completions.create(
                model=model,
                temperature=0,
                messages=analysis_prompt(request),  # type: ignore[arg-type]
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": "call_analysis", "strict": True, "schema": dict(request.schema)},
                },
            )
        except openai.APIStatusError as error:
            raise classify_status("openai analysis", error.status_code, error.message) from error
        except (openai.APITimeoutError, httpx2.TimeoutException) as error:
            raise ProviderError(
                f"openai analysis: no answer within {self._options.timeout_s:g} s", permanent=False
            ) from error
        except (openai.OpenAIError, httpx2.HTTPError) as error:
            raise ProviderError(f"openai analysis: {type(error).__name__}: {error}"[:500], permanent=False) from error
        if not response.choices:
            return AnalysisReply(text="", model=response.model or model)
        message = response.choices[0].message
        usage = response.usage
        return AnalysisReply(
            text=message.content or "",
            refusal=getattr(message, "refusal", None) or "",
            model=response.model or model,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
        )
