#pragma once
// shoal::shard::FifoRing — a bounded first-in first-out queue over one
// fixed array: push at the back, look at and pop a contiguous run at the
// front, all O(1) per element. The shard's tx backlog (frames the NIC
// refused, re-offered first at the next flush) lives in one.
//
// Why not a std::vector erased from the front: under a SYN flood whose
// SYN-ACKs fill the tx ring, the backlog stays deep and every partial send
// moved the whole rest of it (a quarter of the server's time in the
// profile). Here a partial send only advances the head.
//
// The run at the front is contiguous up to the end of the array, so a
// caller hands it to rte_eth_tx_burst as is and comes back for the part
// that wrapped around. Capacity 0: nothing is ever kept (push fails).
#include <cstddef>
#include <span>
#include <vector>

namespace shoal::shard {

template <class T> class FifoRing {
public:
  FifoRing() = default;
  explicit FifoRing(size_t capacity) : slots_(capacity) {}

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  bool full() const { return size_ == slots_.size(); }
  size_t capacity() const { return slots_.size(); }

  // Another capacity; the elements are kept in order, the newest beyond
  // `capacity` are forgotten (the caller pops and disposes of them first).
  void set_capacity(size_t capacity) {
    std::vector<T> slots(capacity);
    size_t n = 0;
    for (; n < size_ && n < capacity; n++)
      slots[n] = slots_[index(n)];
    slots_.swap(slots);
    head_ = 0;
    size_ = n;
  }

  // False (and nothing kept) when full: the caller drops and counts it.
  bool push_back(T v) {
    if (full())
      return false;
    slots_[index(size_)] = v;
    size_++;
    return true;
  }

  // The oldest element. Precondition: !empty().
  T &front() { return slots_[head_]; }
  T &back() { return slots_[index(size_ - 1)]; }

  // The oldest elements, at most `max` of them, up to the end of the array
  // (after a wrap-around the rest follows in the next run).
  std::span<T> front_run(size_t max) {
    size_t n = slots_.size() - head_;
    if (n > size_)
      n = size_;
    if (n > max)
      n = max;
    return {slots_.data() + head_, n};
  }

  // Removes the `n` oldest. Precondition: n <= size().
  void pop_front(size_t n) {
    head_ += n;
    if (head_ >= slots_.size())
      head_ -= slots_.size();
    size_ -= n;
    if (size_ == 0)
      head_ = 0; // the next run starts at the array's start: one run, not two
  }

  // Removes the newest. Precondition: !empty().
  void pop_back() { size_--; }

  // Hands every element, oldest first, to `f` and empties the ring.
  template <class F> void drain(F &&f) {
    for (size_t i = 0; i < size_; i++)
      f(slots_[index(i)]);
    head_ = 0;
    size_ = 0;
  }

private:
  // The slot of the i-th oldest element (i < capacity).
  size_t index(size_t i) const {
    const size_t k = head_ + i;
    return k >= slots_.size() ? k - slots_.size() : k;
  }

  std::vector<T> slots_;
  size_t head_ = 0; // slot of the oldest element
  size_t size_ = 0;
};

} // namespace shoal::shard
