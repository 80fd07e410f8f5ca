/* The header compiles as strict C99 and its declarations are usable. */
#include "ossmc.h"

int main(void) {
    ossmc_error_detail d;
    ossmc_credentials_callback cb = 0;
    (void)cb;
    return ossmc_last_error(&d) == OSSMC_OK && ossmc_abi_version() == OSSMC_ABI_VERSION ? 0 : 1;
}
