"""The local edge: the development server (`make serve`), its pages, and the sandbox proxy."""
