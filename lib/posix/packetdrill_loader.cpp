// libshoal_packetdrill.so: what packetdrill's --so_filename names. It only
// loads libshoal_packetdrill_impl.so from its own directory and hands over.
//
// Why two objects: packetdrill dlopen()s with RTLD_DEEPBIND, which makes the
// DPDK libraries bind to libc's own `optind` while libc's getopt() uses the
// executable's copy of it; rte_eal_init() then parses its arguments with
// getopt state left over from packetdrill's own command line and crashes.
// Loaded from here without RTLD_DEEPBIND, the DPDK libraries and getopt()
// share one `optind` again. This object links nothing but libc.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "posix/packetdrill_interface.hpp"

extern "C" __attribute__((visibility("default"))) void
packetdrill_interface_init(const char *flags, struct packetdrill_interface *ifc) {
  Dl_info self{};
  if (dladdr(reinterpret_cast<void *>(&packetdrill_interface_init), &self) == 0 ||
      self.dli_fname == nullptr) {
    std::fprintf(stderr, "shoal packetdrill loader: cannot find its own path\n");
    std::exit(EXIT_FAILURE);
  }
  std::string path = self.dli_fname;
  const size_t slash = path.rfind('/');
  path = (slash == std::string::npos ? std::string(".") : path.substr(0, slash)) +
         "/libshoal_packetdrill_impl.so";
  void *impl = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (impl == nullptr) {
    std::fprintf(stderr, "shoal packetdrill loader: %s\n", dlerror());
    std::exit(EXIT_FAILURE);
  }
  auto init = reinterpret_cast<packetdrill_interface_init_t>(
      dlsym(impl, "shoal_packetdrill_interface_init"));
  if (init == nullptr) {
    std::fprintf(stderr, "shoal packetdrill loader: %s\n", dlerror());
    std::exit(EXIT_FAILURE);
  }
  init(flags, ifc); // the library stays loaded for the life of the process
}
