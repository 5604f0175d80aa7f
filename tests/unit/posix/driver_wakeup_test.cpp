// ManualDriver::waiters_settled: a thread asleep in wait() with nothing to
// wake it for is settled; once its condition holds (woken, or about to be)
// or while it runs holding its lock, it is not -- a driver of a virtual
// clock must not move the clock on then (the packetdrill adapter).
#include <atomic>
#include <cstring>
#include <chrono>
#include <thread>

#include "posix_fixture.hpp"

namespace shoal::posix::testing {
namespace {

using DriverWakeup = PosixSimTest;

// Polls waiters_settled until it reports `n` sleepers (bounded real time).
bool until_asleep(ManualDriver &d, size_t n) {
  for (int i = 0; i < 20000; ++i) {
    size_t asleep = 0;
    if (d.waiters_settled(asleep) && asleep == n)
      return true;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return false;
}

TEST_F(DriverWakeup, PendingWakeUpIsNotSettled) {
  std::mutex mu;
  std::condition_variable cv;
  bool flag = false;
  std::atomic<bool> returned{false};
  std::thread waiter([&] {
    std::unique_lock lk(mu);
    EXPECT_TRUE(driver_->wait(lk, cv, [&] { return flag; }, std::nullopt));
    returned = true;
  });
  size_t asleep = 99;
  ASSERT_TRUE(until_asleep(*driver_, 1)) << "the waiter never went to sleep";

  // Its condition now holds, but it has not been notified: a wake-up is
  // pending (it would find flag set at its next look).
  {
    std::lock_guard g(mu);
    flag = true;
  }
  EXPECT_FALSE(driver_->waiters_settled(asleep)) << "ready() holds: not settled";
  {
    // While the waiter holds its lock it runs: not settled either.
    std::lock_guard g(mu);
    EXPECT_FALSE(returned.load());
  }
  cv.notify_all();
  waiter.join();
  EXPECT_TRUE(returned.load());
  EXPECT_TRUE(driver_->waiters_settled(asleep));
  EXPECT_EQ(asleep, 0u) << "a returned waiter is no longer listed";
}

TEST_F(DriverWakeup, WaiterHoldingItsLockIsNotSettled) {
  std::mutex mu;
  std::condition_variable cv;
  bool flag = false;
  std::thread waiter([&] {
    std::unique_lock lk(mu);
    driver_->wait(lk, cv, [&] { return flag; }, std::nullopt);
  });
  ASSERT_TRUE(until_asleep(*driver_, 1));
  // A thread that holds the waiter's mutex stands for the waiter being
  // awake between two looks at its condition.
  std::atomic<bool> holding{false}, release{false};
  std::thread holder([&] {
    std::lock_guard g(mu);
    holding = true;
    while (!release)
      std::this_thread::sleep_for(std::chrono::microseconds(50));
  });
  while (!holding)
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  size_t asleep = 0;
  EXPECT_FALSE(driver_->waiters_settled(asleep)) << "lock held: treated as running";
  release = true;
  holder.join();
  {
    std::lock_guard g(mu);
    flag = true;
  }
  cv.notify_all();
  waiter.join();
}

} // namespace
} // namespace shoal::posix::testing
