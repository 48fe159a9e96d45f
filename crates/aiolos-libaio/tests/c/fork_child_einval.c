/* DESC: a forked child using the parent's context gets -EINVAL (also from the zero-timeout path); the parent is unaffected. */
#include "common.h"
#include <sys/wait.h>

int main(void)
{
	io_context_t ctx = 0;
	struct iocb cb, *ptr = &cb;
	struct io_event ev;
	struct timespec zero = {0, 0};
	char buf[64];
	int fd, status;
	pid_t pid;

	require_our_library();
	fd = scratch_file("data", 4096, 0);
	EXPECT_RET(io_setup(4, &ctx), 0);
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);

	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		EXPECT_RET(io_getevents(ctx, 0, 1, &ev, &zero), -EINVAL);
		EXPECT_RET(io_submit(ctx, 1, &ptr), -EINVAL);
		EXPECT_RET(io_destroy(ctx), -EINVAL);
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		FAIL("child failed (status %d)", status);

	EXPECT_RET(io_submit(ctx, 1, &ptr), 1);
	reap(ctx, &ev, 1);
	CHECK(ev.res == (long)sizeof(buf));
	EXPECT_RET(io_destroy(ctx), 0);
	return 0;
}
