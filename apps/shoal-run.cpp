// shoal-run <config.ini> <program> [args...]
//
// Runs an unmodified, dynamically linked program over shoal: the program
// is exec()ed with libshoal_preload.so in LD_PRELOAD and the config in
// SHOAL_CONFIG. Its AF_INET stream sockets are shoal's; everything else is
// the kernel's. The stack starts before the program's main(); a config,
// EAL or port problem is one line on stderr and exit status 1.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <unistd.h>

namespace {

bool readable(const std::string &path) {
  return access(path.c_str(), R_OK) == 0;
}

std::string preload_library() {
  if (const char *p = std::getenv("SHOAL_PRELOAD_LIBRARY"); p != nullptr && *p != 0)
    return p;
  if (readable(SHOAL_PRELOAD_BUILD_PATH))
    return SHOAL_PRELOAD_BUILD_PATH;
  return SHOAL_PRELOAD_INSTALL_PATH;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 3 || std::strcmp(argv[1], "-h") == 0 || std::strcmp(argv[1], "--help") == 0) {
    std::fprintf(stderr,
                 "usage: shoal-run <config.ini> <program> [args...]\n"
                 "  runs <program> with its AF_INET stream sockets on shoal\n"
                 "  (LD_PRELOAD=libshoal_preload.so SHOAL_CONFIG=<config.ini>)\n");
    return argc < 3 ? 2 : 0;
  }
  const std::string config = argv[1];
  if (!readable(config)) {
    std::fprintf(stderr, "shoal-run: %s: %s\n", config.c_str(), std::strerror(errno));
    return 1;
  }
  const std::string lib = preload_library();
  if (!readable(lib)) {
    std::fprintf(stderr, "shoal-run: %s: %s (set SHOAL_PRELOAD_LIBRARY)\n", lib.c_str(),
                 std::strerror(errno));
    return 1;
  }
  std::string preload = lib;
  if (const char *old = std::getenv("LD_PRELOAD"); old != nullptr && *old != 0)
    preload += std::string(":") + old;
  setenv("LD_PRELOAD", preload.c_str(), 1);
  setenv("SHOAL_CONFIG", config.c_str(), 1);
  execvp(argv[2], argv + 2);
  std::fprintf(stderr, "shoal-run: %s: %s\n", argv[2], std::strerror(errno));
  return 127;
}
