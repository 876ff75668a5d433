// The suite's own hygiene: ctest learns the test names from Catch (catch_discover_tests) as a CMake
// list, so a ';' in a name cuts it in two, and the truncated name then matches no test: ctest reports
// "Passed" for a test that never ran. Six tests were lost that way before this check existed.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

TEST_CASE("every test name reaches ctest whole (no semicolon in a TEST_CASE name)", "[suite]") {
    int seen = 0;
    for (const auto& entry : std::filesystem::directory_iterator(std::string(ELM_SOURCE_DIR) + "/tests")) {
        if (entry.path().extension() != ".cpp") continue;
        std::ifstream in(entry.path());
        std::stringstream text;
        text << in.rdbuf();
        const std::string s = text.str();
        const std::string macro = std::string("TEST_") + "CASE(";  // spelt apart so as not to match itself
        for (std::size_t at = s.find(macro); at != std::string::npos; at = s.find(macro, at + 1)) {
            std::size_t open = s.find_first_not_of(" \t\n", at + macro.size());
            if (open == std::string::npos || s[open] != '"') continue;  // the macro named in a comment
            const std::size_t close = s.find('"', open + 1);
            const std::string n = s.substr(open + 1, close - open - 1);
            INFO(entry.path().filename().string() << ": \"" << n << "\"");
            CHECK(n.find(';') == std::string::npos);
            ++seen;
        }
    }
    CHECK(seen > 100);
}
