"""Test-suite settings.

``SCIPY_ARRAY_API=1`` must be set before scipy is imported so that
scikit-learn's ``check_array_api_input`` (numpy namespace) runs instead of
skipping itself.
"""

import os

os.environ.setdefault("SCIPY_ARRAY_API", "1")
