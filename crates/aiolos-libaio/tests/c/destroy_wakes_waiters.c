/* DESC: io_destroy wakes all 100 threads blocked in io_getevents (each gets -EINVAL) and waits for in-flight requests. */
#include "common.h"
#include <pthread.h>

#define THREADS 100

static io_context_t ctx;
static int results[THREADS];
static volatile int started;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void *waiter(void *arg)
{
	struct io_event ev;
	long i = (long)arg;
	pthread_mutex_lock(&lock);
	started++;
	pthread_mutex_unlock(&lock);
	/* No timeout: only io_destroy can end this wait. */
	results[i] = io_getevents(ctx, 1, 1, &ev, NULL);
	return NULL;
}

int main(void)
{
	pthread_t th[THREADS];
	long i;
	double t0;

	require_our_library();
	EXPECT_RET(io_setup(THREADS, &ctx), 0);
	for (i = 0; i < THREADS; i++) {
		results[i] = 1;
		if (pthread_create(&th[i], NULL, waiter, (void *)i) != 0)
			FAIL("pthread_create: %s", strerror(errno));
	}
	while (started < THREADS)
		usleep(1000);
	usleep(200 * 1000); /* let every thread reach the kernel wait */

	t0 = now_seconds();
	EXPECT_RET(io_destroy(ctx), 0);
	for (i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < THREADS; i++)
		if (results[i] != -EINVAL)
			FAIL("waiter %ld got %d, expected -EINVAL", i, results[i]);
	if (now_seconds() - t0 > 5)
		FAIL("waking the waiters took %.1f s", now_seconds() - t0);
	/* Destroying again is an error, not a crash. */
	EXPECT_RET(io_destroy(ctx), -EINVAL);
	return 0;
}
