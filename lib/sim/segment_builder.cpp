#include "sim/segment_builder.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "wire/checksum.hpp"
#include "wire/ipv4.hpp"

namespace shoal::sim {

Seg &Seg::sack(std::initializer_list<wire::SackBlock> blocks) {
  sack_ = std::vector<wire::SackBlock>(blocks);
  return *this;
}

Seg &Seg::payload(std::string_view bytes) {
  payload_ = std::vector<uint8_t>(bytes.begin(), bytes.end());
  return *this;
}

Seg &Seg::payload(std::span<const uint8_t> bytes) {
  payload_ = std::vector<uint8_t>(bytes.begin(), bytes.end());
  return *this;
}

std::vector<uint8_t> Seg::payload_bytes() const {
  if (payload_)
    return *payload_;
  std::vector<uint8_t> p(len_.value_or(0));
  for (size_t i = 0; i < p.size(); ++i)
    p[i] = static_cast<uint8_t>('a' + i % 26);
  return p;
}

wire::TcpRepr Seg::tcp_repr(const SegDefaults &d) const {
  wire::TcpRepr t;
  t.src_port = src_port_.value_or(d.src_port);
  t.dst_port = dst_port_.value_or(d.dst_port);
  t.seq = seq_.value_or(0);
  t.ack = ack_.value_or(0);
  t.flags = flags_.value_or(ack_ ? wire::tcp_flags::ACK : 0);
  t.window = win_.value_or(d.window);
  t.urgent = urg_.value_or(0);
  t.options.mss = mss_;
  t.options.window_scale = wscale_;
  t.options.sack_permitted = sack_perm_.value_or(false);
  if (has_ts_.value_or(false))
    t.options.timestamp = wire::TcpTimestamp{ts_val_.value_or(0), ts_ecr_.value_or(0)};
  if (sack_) {
    t.options.sack_count = static_cast<uint8_t>(std::min(sack_->size(), t.options.sack.size()));
    std::copy_n(sack_->begin(), t.options.sack_count, t.options.sack.begin());
  }
  return t;
}

std::vector<uint8_t> Seg::build(const SegDefaults &d) const {
  const wire::TcpRepr t = tcp_repr(d);
  const std::vector<uint8_t> data = payload_bytes();
  const size_t hlen = wire::tcp_header_len(t);
  std::vector<uint8_t> out(wire::kIpv4MinHeaderLen + hlen + data.size());

  wire::Ipv4Repr ip;
  ip.src = src_.value_or(d.src);
  ip.dst = dst_.value_or(d.dst);
  ip.protocol = wire::kIpProtoTcp;
  ip.payload_len = static_cast<uint16_t>(hlen + data.size());
  wire::emit_ipv4(ip, out);

  auto segment = std::span<uint8_t>(out).subspan(wire::kIpv4MinHeaderLen);
  wire::emit_tcp_header(t, segment);
  std::copy(data.begin(), data.end(), segment.begin() + static_cast<ptrdiff_t>(hlen));
  uint16_t csum = wire::tcp_checksum(ip.src, ip.dst, segment);
  if (bad_checksum_)
    csum = static_cast<uint16_t>(csum ^ 0x5a5a);
  wire::set_tcp_checksum(segment, csum);
  return out;
}

rte_mbuf *Seg::build_mbuf(rte_mempool *pool, const SegDefaults &d) const {
  const std::vector<uint8_t> bytes = build(d);
  rte_mbuf *m = rte_pktmbuf_alloc(pool);
  if (m == nullptr)
    return nullptr;
  char *dst = rte_pktmbuf_append(m, static_cast<uint16_t>(bytes.size()));
  if (dst == nullptr) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  std::memcpy(dst, bytes.data(), bytes.size());
  return m;
}

namespace {

template <class T> std::string show(const T &v) {
  return std::to_string(v);
}

void mismatch(std::string *why, const char *field, const std::string &want,
              const std::string &got) {
  if (why == nullptr)
    return;
  if (!why->empty())
    *why += "; ";
  *why += field;
  *why += ": expected " + want + ", got " + got;
}

std::string show_opt(const auto &o) {
  return o ? std::to_string(*o) : std::string("none");
}

} // namespace

bool Seg::matches(const ParsedSegment &s, std::string *why) const {
  if (why != nullptr)
    why->clear();
  if (!s.ok()) {
    if (why != nullptr)
      *why = "malformed segment: " + format_segment(s);
    return false;
  }
  bool ok = true;
  auto check = [&](bool good, const char *field, const std::string &want, const std::string &got) {
    if (!good) {
      ok = false;
      mismatch(why, field, want, got);
    }
  };
  const auto &t = s.tcp;
  const auto &o = t.options;
  if (flags_)
    check(t.flags == *flags_, "flags", "[" + format_tcp_flags(*flags_) + "]",
          "[" + format_tcp_flags(t.flags) + "]");
  if (seq_)
    check(t.seq == *seq_, "seq", show(*seq_), show(t.seq));
  if (ack_)
    check(t.ack == *ack_, "ack", show(*ack_), show(t.ack));
  if (win_)
    check(t.window == *win_, "win", show(*win_), show(t.window));
  if (urg_)
    check(t.urgent == *urg_, "urg", show(*urg_), show(t.urgent));
  if (src_port_)
    check(t.src_port == *src_port_, "src port", show(*src_port_), show(t.src_port));
  if (dst_port_)
    check(t.dst_port == *dst_port_, "dst port", show(*dst_port_), show(t.dst_port));
  if (src_)
    check(s.ip.src == *src_, "src", src_->to_string(), s.ip.src.to_string());
  if (dst_)
    check(s.ip.dst == *dst_, "dst", dst_->to_string(), s.ip.dst.to_string());
  if (mss_)
    check(o.mss == mss_, "mss", show(*mss_), show_opt(o.mss));
  if (wscale_)
    check(o.window_scale == wscale_, "wscale", show(*wscale_), show_opt(o.window_scale));
  if (sack_perm_)
    check(o.sack_permitted == *sack_perm_, "sackOK", *sack_perm_ ? "present" : "absent",
          o.sack_permitted ? "present" : "absent");
  if (has_ts_) {
    if (!*has_ts_) {
      check(!o.timestamp, "TS", "absent", "present");
    } else if (!o.timestamp) {
      check(false, "TS", "present", "absent");
    } else {
      if (ts_val_)
        check(o.timestamp->val == *ts_val_, "TS val", show(*ts_val_), show(o.timestamp->val));
      if (ts_ecr_)
        check(o.timestamp->ecr == *ts_ecr_, "TS ecr", show(*ts_ecr_), show(o.timestamp->ecr));
    }
  }
  if (sack_) {
    bool same = sack_->size() == o.sack_count;
    for (size_t i = 0; same && i < sack_->size(); ++i)
      same = (*sack_)[i] == o.sack[i];
    check(same, "sack blocks", show(sack_->size()) + " blocks",
          show(unsigned{o.sack_count}) + " blocks");
  }
  if (no_options_) {
    const bool none =
        !o.mss && !o.window_scale && !o.sack_permitted && !o.timestamp && o.sack_count == 0;
    check(none, "options", "none", "some");
  }
  if (payload_) {
    const bool same = payload_->size() == s.payload.size() &&
                      std::equal(payload_->begin(), payload_->end(), s.payload.begin());
    check(same, "payload", show(payload_->size()) + " given bytes",
          show(s.payload.size()) +
              (payload_->size() == s.payload.size() ? " other bytes" : " bytes"));
  } else if (len_) {
    check(s.payload.size() == *len_, "len", show(*len_), show(s.payload.size()));
  }
  return ok;
}

std::string Seg::describe() const {
  std::string s;
  char buf[64];
  auto add = [&s](const std::string &part) {
    if (!s.empty())
      s += ' ';
    s += part;
  };
  if (src_ || src_port_ || dst_ || dst_port_) {
    std::string ends = src_ ? src_->to_string() : std::string("*");
    ends += ":" + (src_port_ ? std::to_string(*src_port_) : std::string("*"));
    ends += " > " + (dst_ ? dst_->to_string() : std::string("*"));
    ends += ":" + (dst_port_ ? std::to_string(*dst_port_) : std::string("*"));
    add(ends);
  }
  add(flags_ ? "[" + format_tcp_flags(*flags_) + "]" : std::string("[*]"));
  if (seq_)
    add("seq " + std::to_string(*seq_));
  if (ack_)
    add("ack " + std::to_string(*ack_));
  if (win_)
    add("win " + std::to_string(*win_));
  if (urg_)
    add("urg " + std::to_string(*urg_));
  std::string opts;
  auto opt = [&opts](const std::string &part) {
    if (!opts.empty())
      opts += ',';
    opts += part;
  };
  if (mss_)
    opt("mss " + std::to_string(*mss_));
  if (sack_perm_)
    opt(*sack_perm_ ? "sackOK" : "no sackOK");
  if (has_ts_) {
    if (!*has_ts_) {
      opt("no TS");
    } else {
      std::snprintf(buf, sizeof buf, "TS val %s ecr %s",
                    ts_val_ ? std::to_string(*ts_val_).c_str() : "*",
                    ts_ecr_ ? std::to_string(*ts_ecr_).c_str() : "*");
      opt(buf);
    }
  }
  if (wscale_)
    opt("wscale " + std::to_string(*wscale_));
  if (sack_) {
    std::string b = "sack " + std::to_string(sack_->size());
    for (const auto &blk : *sack_)
      b += " {" + std::to_string(blk.left) + ":" + std::to_string(blk.right) + "}";
    opt(b);
  }
  if (no_options_)
    opt("no options");
  if (!opts.empty())
    add("<" + opts + ">");
  if (payload_)
    add("len " + std::to_string(payload_->size()) + " (bytes given)");
  else if (len_)
    add("len " + std::to_string(*len_));
  if (bad_checksum_)
    add("(bad checksum)");
  return s;
}

} // namespace shoal::sim
