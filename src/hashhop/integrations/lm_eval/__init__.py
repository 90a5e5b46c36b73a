"""lm-evaluation-harness tasks `hashhop_*`: this folder is an lm-eval `--include_path`.

    lm_eval --model local-chat-completions \
        --model_args model=M,base_url=http://127.0.0.1:8080/v1/chat/completions \
        --tasks hashhop_2hop_1k --apply_chat_template \
        --include_path $(python -c 'import hashhop.integrations.lm_eval as m, os; print(os.path.dirname(m.__file__))')

Tasks are `hashhop_[cot_]{1,2,3}hop_{1k,4k,16k,64k,128k}` (tag `hashhop`: all of them); any
task's `tokens`, `hops`, `cot`, `samples`, `queries`, `seed` can be overridden with
`--metadata '{"samples": 50}'`. `utils.py` holds the hooks the YAML files name.
"""

import os

INCLUDE_PATH = os.path.dirname(os.path.abspath(__file__))
