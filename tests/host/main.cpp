// SPDX-License-Identifier: GPL-2.0
/*
 * main() of the host tests: GoogleTest plus a watchdog, so that a lost
 * wakeup or a deadlock in the core fails loudly (naming the test) instead
 * of hanging the build.
 */
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace {

constexpr int kTestSeconds = 60;

std::atomic<long> g_deadline_ms{0};
std::atomic<const ::testing::TestInfo *> g_current{nullptr};

long now_ms()
{
	return long(std::chrono::duration_cast<std::chrono::milliseconds>(
			    std::chrono::steady_clock::now().time_since_epoch()).count());
}

class Watchdog : public ::testing::EmptyTestEventListener {
	void OnTestStart(const ::testing::TestInfo &info) override
	{
		g_current.store(&info);
		g_deadline_ms.store(now_ms() + kTestSeconds * 1000L);
	}
	void OnTestEnd(const ::testing::TestInfo &) override { g_deadline_ms.store(0); }
};

void watch()
{
	for (;;) {
		std::this_thread::sleep_for(std::chrono::milliseconds(200));
		const long d = g_deadline_ms.load();
		const ::testing::TestInfo *t = g_current.load();
		if (d && t && now_ms() > d) {
			std::fprintf(stderr, "\nwatchdog: %s.%s still running after %d s (hang or deadlock)\n",
				     t->test_suite_name(), t->name(), kTestSeconds);
			std::fflush(stderr);
			std::abort();
		}
	}
}

} // namespace

int main(int argc, char **argv)
{
	/* Death tests re-execute the binary: fork() alone is unsafe with our threads. */
	GTEST_FLAG_SET(death_test_style, "threadsafe");
	::testing::InitGoogleTest(&argc, argv);
	::testing::UnitTest::GetInstance()->listeners().Append(new Watchdog);
	std::thread(watch).detach();
	return RUN_ALL_TESTS();
}
