/* DESC: a forked child's own context runs O_DIRECT reads after the parent's did (so the parent had its kernel side and harvesting thread): their events reach the child's ring without io_getevents (the child has a harvesting thread of its own), and io_getevents finds the next; the parent goes on afterwards. */
#include "common.h"
#include <sys/wait.h>

/* One O_DIRECT read reaped from the ring directly, then one reaped by io_getevents. */
static void direct_round(io_context_t ctx, int fd, unsigned char *buf, unsigned seed)
{
	struct iocb cb, *ptr = &cb;
	struct io_event ev;
	io_prep_pread(&cb, fd, buf, 4096, 4096 * seed);
	cb.data = (void *)(long)seed;
	memset(buf, 0, 4096);
	EXPECT_RET(io_submit(ctx, 1, &ptr), 1);
	CHECK(ring_take(ctx, &ev, 1) == 1);
	CHECK(ev.obj == &cb && ev.res == 4096 && ev.data == (void *)(long)seed);
	CHECK(check_pattern(buf, 4096, seed));
	io_prep_pread(&cb, fd, buf, 4096, 4096 * seed);
	EXPECT_RET(io_submit(ctx, 1, &ptr), 1);
	reap(ctx, &ev, 1);
	CHECK(ev.res == 4096 && check_pattern(buf, 4096, seed));
}

int main(void)
{
	io_context_t ctx = 0, child_ctx = 0;
	unsigned char *buf;
	int fd, status, i;
	pid_t pid;

	require_our_library();
	CHECK(posix_memalign((void **)&buf, 4096, 4096) == 0);
	fd = scratch_file("data", 8 * 4096, 0);
	for (i = 0; i < 8; i++) {
		fill_pattern(buf, 4096, i);
		CHECK(pwrite(fd, buf, 4096, 4096 * i) == 4096);
	}
	CHECK(fsync(fd) == 0);
	close(fd);
	fd = open("data", O_RDONLY | O_DIRECT);
	if (fd < 0)
		SKIP("no O_DIRECT here");
	EXPECT_RET(io_setup(4, &ctx), 0);
	direct_round(ctx, fd, buf, 1);

	/* The library's threads are idle before the fork (nothing in flight for 100 ms): a
	 * child of a multi-threaded process may take only locks no other thread held. */
	usleep(100000);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		EXPECT_RET(io_setup(4, &child_ctx), 0);
		direct_round(child_ctx, fd, buf, 2);
		EXPECT_RET(io_destroy(child_ctx), 0);
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		FAIL("child failed (status %d)", status);
	direct_round(ctx, fd, buf, 3);
	EXPECT_RET(io_destroy(ctx), 0);
	return 0;
}
