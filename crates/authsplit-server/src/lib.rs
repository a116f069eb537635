//! authsplit-server (work in progress).
