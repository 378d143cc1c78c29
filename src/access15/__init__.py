"""access15: who can reach which public services on foot, and where the gaps are."""

__version__ = "0.1.0"

from .config import Config, load_config  # noqa: E402
from .errors import Access15Error, InputError  # noqa: E402
from .pipeline import AnalysisResult, analyze  # noqa: E402
from .store import load_result  # noqa: E402

__all__ = ["Config", "load_config", "analyze", "AnalysisResult", "load_result", "Access15Error", "InputError", "__version__"]
