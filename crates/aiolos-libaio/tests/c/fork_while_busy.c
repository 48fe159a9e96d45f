/* DESC: a program forks again and again while other threads of it keep the library busy (requests in flight and completing, contexts set up and destroyed, threads that submit once and exit); every child sets up a context of its own and runs buffered and O_DIRECT reads at once, as on kernel AIO. A child that hangs in the library (a lock a parent's thread held at the fork) is killed after 5 s and fails the test. */
#include "common.h"
#include <pthread.h>
#include <sys/wait.h>

#define BLOCKS 64
#define FORKS 150

static volatile int stop;
static int buffered_fd, direct_fd;
static const char *failure;
static long worker_rounds, churn_rounds;
/* A context of the parent's, busy at every fork. */
static io_context_t busy_ctx;

static void fail_in_thread(const char *what)
{
	if (!failure)
		failure = what;
	stop = 1;
}

/* Batches of buffered and O_DIRECT reads on one context, half of the buffered ones cold
 * (the page cache dropped now and then), so that the engine's threads publish events
 * while the program forks. */
static void *worker(void *arg)
{
	io_context_t ctx = 0;
	struct iocb cbs[8], *ptrs[8];
	struct io_event evs[8];
	unsigned char *bufs;
	long round;
	int i;

	(void)arg;
	if (io_setup(8, &ctx) != 0) {
		fail_in_thread("worker: io_setup");
		return NULL;
	}
	__atomic_store_n(&busy_ctx, ctx, __ATOMIC_RELEASE);
	if (posix_memalign((void **)&bufs, 4096, 8 * 4096) != 0) {
		fail_in_thread("worker: posix_memalign");
		return NULL;
	}
	for (round = 0; !stop; round++) {
		struct timespec ts = {10, 0};
		int got = 0;
		if (round % 4 == 0)
			posix_fadvise(buffered_fd, 0, 0, POSIX_FADV_DONTNEED);
		for (i = 0; i < 8; i++) {
			int fd = (i % 2 && direct_fd >= 0) ? direct_fd : buffered_fd;
			unsigned block = (unsigned)((round * 8 + i) % BLOCKS);
			io_prep_pread(&cbs[i], fd, bufs + 4096 * i, 4096, 4096 * (long long)block);
			cbs[i].data = (void *)(long)block;
			ptrs[i] = &cbs[i];
		}
		if (io_submit(ctx, 8, ptrs) != 8) {
			fail_in_thread("worker: io_submit");
			break;
		}
		while (got < 8) {
			int r = io_getevents(ctx, 8 - got, 8, evs, &ts);
			if (r <= 0) {
				fail_in_thread("worker: io_getevents");
				break;
			}
			for (i = 0; i < r; i++)
				if (evs[i].res != 4096 ||
				    !check_pattern(evs[i].obj->u.c.buf, 4096, (unsigned)(long)evs[i].data))
					fail_in_thread("worker: wrong read");
			got += r;
		}
		__atomic_store_n(&worker_rounds, round + 1, __ATOMIC_RELAXED);
	}
	io_destroy(ctx);
	free(bufs);
	return NULL;
}

/* A thread that submits one read and exits (the library gives each thread's resources
 * back when it exits). */
static void *submit_once(void *arg)
{
	io_context_t ctx = *(io_context_t *)arg;
	unsigned char buf[4096];
	struct iocb cb, *ptr = &cb;
	struct io_event ev;
	struct timespec ts = {10, 0};

	io_prep_pread(&cb, buffered_fd, buf, 4096, 0);
	if (io_submit(ctx, 1, &ptr) != 1 || io_getevents(ctx, 1, 1, &ev, &ts) != 1 ||
	    ev.res != 4096 || !check_pattern(buf, 4096, 0))
		fail_in_thread("churn: one read");
	return NULL;
}

/* Contexts set up and destroyed, and short-lived threads, all the time. */
static void *churn(void *arg)
{
	long round;
	(void)arg;
	for (round = 0; !stop; round++) {
		io_context_t ctx = 0;
		pthread_t t;
		if (io_setup(4, &ctx) != 0) {
			fail_in_thread("churn: io_setup");
			break;
		}
		if (pthread_create(&t, NULL, submit_once, &ctx) != 0) {
			fail_in_thread("churn: pthread_create");
			break;
		}
		pthread_join(t, NULL);
		if (io_destroy(ctx) != 0) {
			fail_in_thread("churn: io_destroy");
			break;
		}
		__atomic_store_n(&churn_rounds, round + 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* The child: the parent's busy context is not its own (EINVAL, as from kernel AIO); a
 * context of its own runs a buffered and an O_DIRECT read at once, and is destroyed. */
static void child(unsigned seed)
{
	io_context_t ctx = 0, parents = __atomic_load_n(&busy_ctx, __ATOMIC_ACQUIRE);
	struct iocb cbs[2], *ptrs[2] = {&cbs[0], &cbs[1]};
	struct io_event evs[2];
	/* Not a zero timeout: there libaio reads the ring the child inherited, in user space. */
	struct timespec short_wait = {0, 1};
	unsigned char *buf;
	unsigned block = seed % BLOCKS;
	int n = direct_fd >= 0 ? 2 : 1, i;

	if (posix_memalign((void **)&buf, 4096, 2 * 4096) != 0)
		_exit(3);
	io_prep_pread(&cbs[0], buffered_fd, buf, 4096, 4096 * (long long)block);
	io_prep_pread(&cbs[1], direct_fd, buf + 4096, 4096, 4096 * (long long)block);
	if (io_submit(parents, 1, ptrs) != -EINVAL ||
	    io_getevents(parents, 0, 1, evs, &short_wait) != -EINVAL || io_destroy(parents) != -EINVAL)
		_exit(8);
	if (io_setup(4, &ctx) != 0)
		_exit(4);
	if (io_submit(ctx, n, ptrs) != n)
		_exit(5);
	reap(ctx, evs, n);
	for (i = 0; i < n; i++)
		if (evs[i].res != 4096 || !check_pattern(evs[i].obj->u.c.buf, 4096, block))
			_exit(6);
	if (io_destroy(ctx) != 0)
		_exit(7);
	_exit(0);
}

int main(void)
{
	pthread_t workers[2], churner;
	unsigned char *buf;
	int fd, i, status;

	require_our_library();
	CHECK(posix_memalign((void **)&buf, 4096, 4096) == 0);
	fd = scratch_file("data", BLOCKS * 4096, 0);
	for (i = 0; i < BLOCKS; i++) {
		fill_pattern(buf, 4096, (unsigned)i);
		CHECK(pwrite(fd, buf, 4096, 4096 * (off_t)i) == 4096);
	}
	CHECK(fsync(fd) == 0);
	close(fd);
	buffered_fd = open("data", O_RDONLY);
	CHECK(buffered_fd >= 0);
	direct_fd = open("data", O_RDONLY | O_DIRECT);

	for (i = 0; i < 2; i++)
		CHECK(pthread_create(&workers[i], NULL, worker, NULL) == 0);
	CHECK(pthread_create(&churner, NULL, churn, NULL) == 0);
	while (!stop && (__atomic_load_n(&worker_rounds, __ATOMIC_RELAXED) < 10 ||
			 __atomic_load_n(&churn_rounds, __ATOMIC_RELAXED) < 10))
		usleep(1000);

	for (i = 0; i < FORKS && !stop; i++) {
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0)
			child((unsigned)i);
		/* Not alarm() in the child: the library blocks signals inside its calls. */
		if (!wait_up_to(pid, 5, &status)) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			FAIL("fork %d: the child hung in the library for 5 s", i);
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			FAIL("fork %d: the child failed (status 0x%x)", i, status);
		/* Forks land at different points of the other threads' work. */
		usleep((useconds_t)(rand() % 2000));
	}
	stop = 1;
	for (i = 0; i < 2; i++)
		pthread_join(workers[i], NULL);
	pthread_join(churner, NULL);
	if (failure)
		FAIL("%s", failure);
	if (direct_fd < 0)
		fprintf(stderr, "note: no O_DIRECT here; the children ran buffered reads only\n");
	return 0;
}
