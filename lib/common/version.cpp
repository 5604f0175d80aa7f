#include "common/version.hpp"

namespace shoal {
const char *version() { return "0.1.0"; }
} // namespace shoal
