// `elmsim bench-gemm` end to end: the table of one step's products, and a bad --blas library
// rejected with one line and exit code 2.
#include <catch2/catch.hpp>

#include "tests/cli_runner.hpp"

using elm::test::run_elmsim;

TEST_CASE("cli bench-gemm: every configuration's products, elmsim column only without --blas", "[cli][bench]") {
    const auto r = run_elmsim("bench-gemm --repeats 1 --inner 1");
    INFO(r.output);
    REQUIRE(r.code == 0);
    for (const char* row : {"small    fwd  u W1^T", "wide     bwd  gW1 += gA^T u", "complex  bwd  gA2 W2"})
        CHECK_THAT(r.output, Catch::Contains(row));
    CHECK_THAT(r.output, !Catch::Contains("blas1"));
}

TEST_CASE("cli bench-gemm: a library that cannot be loaded or has no cblas_sgemm exits 2", "[cli][bench][errors]") {
    auto r = run_elmsim("bench-gemm --blas /nonexistent/libnothing.so");
    CHECK(r.code == 2);
    CHECK_THAT(r.output, Catch::Contains("cannot load /nonexistent/libnothing.so"));
    r = run_elmsim("bench-gemm --blas libc.so.6");  // loads, but is no BLAS
    CHECK(r.code == 2);
    CHECK_THAT(r.output, Catch::Contains("has no cblas_sgemm"));
    r = run_elmsim("bench-gemm --repeats 0");
    CHECK(r.code == 2);
}
