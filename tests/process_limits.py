"""How long a test waits for a subprocess it starts.

A test must never fail because the machine is slow. Every subprocess a test starts (an
example, a training run, a fresh process that loads a ``.keras`` file, a worker of a
multi-process run) takes at most about three minutes on an idle 2-core machine, and a machine
busy with other work has been measured five times slower: ``SUBPROCESS_TIMEOUT`` is ten times
the longest idle duration, so reaching it means a hang, not a slow machine.
"""

#: Seconds a test waits for one subprocess (or one group of concurrent workers).
SUBPROCESS_TIMEOUT = 1800
