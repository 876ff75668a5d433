// Catch2 v2 entry point for elm_tests.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#if defined(__SANITIZE_ADDRESS__)
// LeakSanitizer (asan preset): libhdf5 leaks on some error paths of the damaged files the hardening
// tests feed it. The library is not instrumented and its stacks end inside it, so its leaks are
// suppressed as a whole; elmsim's own allocations stay leak-checked (as in tools/fuzz.sh, whose
// tests/fuzz/lsan.supp says the same).
extern "C" const char* __lsan_default_suppressions() { return "leak:libhdf5_serial.so\n"; }
#endif
