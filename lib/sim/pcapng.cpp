#include "sim/pcapng.hpp"

#include <cstdio>
#include <cstring>
#include <string_view>

#include "sim/parsed_segment.hpp"

namespace shoal::sim {

namespace {

// Block types and option codes (pcapng spec, sections 4.1-4.3 and 3.5).
constexpr uint32_t kBlockSectionHeader = 0x0A0D0D0A;
constexpr uint32_t kBlockInterfaceDescription = 0x00000001;
constexpr uint32_t kBlockEnhancedPacket = 0x00000006;
constexpr uint32_t kByteOrderMagic = 0x1A2B3C4D;
constexpr uint16_t kOptEndOfOpt = 0;
constexpr uint16_t kOptComment = 1;
constexpr uint16_t kShbUserAppl = 4;
constexpr uint16_t kIfName = 2;
constexpr uint16_t kIfTsresol = 9;
constexpr uint8_t kTsresolNanoseconds = 9; // 10^-9 s
constexpr uint32_t kSnapLen = 65535;

class BlockWriter {
public:
  explicit BlockWriter(std::vector<uint8_t> &out) : out_(out) {}

  // Starts a block: type + a placeholder for the total length.
  void begin(uint32_t type) {
    start_ = out_.size();
    u32(type);
    u32(0);
  }
  // Ends it: trailing total length, and patches the leading one.
  void end() {
    const auto total = static_cast<uint32_t>(out_.size() - start_ + 4);
    u32(total);
    std::memcpy(&out_[start_ + 4], &total, sizeof total);
  }

  void u16(uint16_t v) { raw(&v, sizeof v); }
  void u32(uint32_t v) { raw(&v, sizeof v); }
  void u64(uint64_t v) { raw(&v, sizeof v); }
  void bytes(const void *p, size_t n) {
    raw(p, n);
    pad();
  }
  void option(uint16_t code, std::string_view value) {
    u16(code);
    u16(static_cast<uint16_t>(value.size()));
    bytes(value.data(), value.size());
  }
  void option_u8(uint16_t code, uint8_t value) {
    u16(code);
    u16(1);
    bytes(&value, 1);
  }
  void end_of_options() {
    u16(kOptEndOfOpt);
    u16(0);
  }

private:
  void raw(const void *p, size_t n) {
    const auto *b = static_cast<const uint8_t *>(p);
    out_.insert(out_.end(), b, b + n);
  }
  void pad() {
    while ((out_.size() - start_) % 4 != 0)
      out_.push_back(0);
  }

  std::vector<uint8_t> &out_;
  size_t start_ = 0;
};

std::string fate_comment(const TraceEntry &e) {
  if (e.fate != Fate::delivered)
    return to_string(e.fate);
  std::string s;
  auto add = [&s](const std::string &part) {
    if (!s.empty())
      s += ", ";
    s += part;
  };
  if (e.reordered)
    add("reordered");
  else if (e.overtakes)
    add("overtaking");
  if (e.duplicated)
    add("duplicated");
  if (e.corrupted)
    add("corrupted: bit " + std::to_string(e.corrupt_bit));
  return s;
}

} // namespace

std::vector<uint8_t> encode_pcapng(const Trace &trace) {
  std::vector<uint8_t> out;
  BlockWriter w(out);

  w.begin(kBlockSectionHeader);
  w.u32(kByteOrderMagic);
  w.u16(1);          // major version
  w.u16(0);          // minor version
  w.u64(UINT64_MAX); // section length: not specified
  w.option(kShbUserAppl, "shoal sim");
  w.end_of_options();
  w.end();

  // Interface 0 carries A->B, interface 1 B->A.
  for (Direction d : {Direction::a_to_b, Direction::b_to_a}) {
    w.begin(kBlockInterfaceDescription);
    w.u16(kLinktypeRaw);
    w.u16(0); // reserved
    w.u32(kSnapLen);
    w.option(kIfName, trace.name(d) + ">" + trace.peer_name(d));
    w.option_u8(kIfTsresol, kTsresolNanoseconds);
    w.end_of_options();
    w.end();
  }

  for (const TraceEntry &e : trace.entries()) {
    if (e.kind != TraceEntry::Kind::segment)
      continue;
    const int64_t ns_signed = (e.at - trace.epoch()).count();
    const auto ns = static_cast<uint64_t>(ns_signed < 0 ? 0 : ns_signed);
    const auto len = static_cast<uint32_t>(e.bytes.size());
    w.begin(kBlockEnhancedPacket);
    w.u32(static_cast<uint32_t>(e.dir));
    w.u32(static_cast<uint32_t>(ns >> 32));
    w.u32(static_cast<uint32_t>(ns));
    w.u32(len); // captured
    w.u32(len); // original
    w.bytes(e.bytes.data(), e.bytes.size());
    // The trace's own line for the segment, after the link's fate if any.
    const std::string fate = fate_comment(e);
    const std::string line = format_segment(parse_segment(e.bytes));
    w.option(kOptComment, fate.empty() ? line : fate + ": " + line);
    w.end_of_options();
    w.end();
  }
  return out;
}

bool write_pcapng(const Trace &trace, const std::string &path) {
  const std::vector<uint8_t> bytes = encode_pcapng(trace);
  std::FILE *f = std::fopen(path.c_str(), "wb");
  if (f == nullptr)
    return false;
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return std::fclose(f) == 0 && ok;
}

} // namespace shoal::sim
