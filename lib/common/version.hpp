#pragma once

namespace shoal {
// Library version string, as in meson.build.
const char *version();
} // namespace shoal
