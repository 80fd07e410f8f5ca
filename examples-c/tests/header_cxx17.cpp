// The header compiles as strict C++17, with C linkage for every function.
#include "ossmc.h"

#include <type_traits>

static_assert(std::is_same<decltype(&ossmc_read), int32_t (*)(ossmc_object *, void *, size_t, size_t *)>::value,
              "ossmc_read has the documented signature");

int main() {
    ossmc_error_detail d{};
    return ossmc_last_error(&d) == OSSMC_OK && ossmc_abi_version() == OSSMC_ABI_VERSION ? 0 : 1;
}
