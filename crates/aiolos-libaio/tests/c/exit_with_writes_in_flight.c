/* DESC: a program submits buffered and O_DIRECT writes, an fsync and a poll of a pipe that never becomes readable, and leaves at once without reaping them: through exit(), _exit() and exec. It leaves at once (the poll is not waited for, as the kernel cancels it). As with kernel AIO, every written block is in the files afterwards. With AIOLOS_DIRECT=engine on uring or threads, O_DIRECT writes are the engine's own requests, which the library can wait for only in exit(): there only that way is checked for them (docs/dropin.md). */
#include "common.h"
#include <poll.h>
#include <sys/wait.h>

#define BLOCKS 64
#define BUFFERED_BS (64 * 1024)
#define DIRECT_BS 4096

static int direct_supported;

/* The child: submits every write and an fsync, then leaves as `how` says. */
static void submit_and_leave(const char *how)
{
	static struct iocb cbs[2 * BLOCKS + 2];
	struct iocb *ptrs[2 * BLOCKS + 2];
	io_context_t ctx = 0;
	unsigned char *direct_bufs;
	int buffered, direct, i, n = 0, pipefd[2];

	buffered = open("buffered", O_WRONLY | O_CREAT | O_TRUNC, 0600);
	direct = direct_supported ? open("direct", O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT, 0600) : -1;
	if (buffered < 0 || (direct_supported && direct < 0))
		_exit(10);
	if (pipe(pipefd) != 0)
		_exit(16);
	if (io_setup(2 * BLOCKS + 2, &ctx) != 0)
		_exit(11);
	for (i = 0; i < BLOCKS; i++) {
		unsigned char *buf = (unsigned char *)malloc(BUFFERED_BS);
		if (!buf)
			_exit(12);
		fill_pattern(buf, BUFFERED_BS, (unsigned)i);
		io_prep_pwrite(&cbs[n], buffered, buf, BUFFERED_BS, (long long)i * BUFFERED_BS);
		ptrs[n] = &cbs[n];
		n++;
	}
	if (direct >= 0) {
		if (posix_memalign((void **)&direct_bufs, 4096, BLOCKS * DIRECT_BS) != 0)
			_exit(13);
		for (i = 0; i < BLOCKS; i++) {
			unsigned char *buf = direct_bufs + (size_t)i * DIRECT_BS;
			fill_pattern(buf, DIRECT_BS, (unsigned)i + 1000);
			io_prep_pwrite(&cbs[n], direct, buf, DIRECT_BS, (long long)i * DIRECT_BS);
			ptrs[n] = &cbs[n];
			n++;
		}
	}
	io_prep_fsync(&cbs[n], buffered);
	ptrs[n] = &cbs[n];
	n++;
	io_prep_poll(&cbs[n], pipefd[0], POLLIN);
	ptrs[n] = &cbs[n];
	n++;
	if (io_submit(ctx, n, ptrs) != n)
		_exit(14);
	if (strcmp(how, "exit") == 0)
		exit(0);
	if (strcmp(how, "_exit") == 0)
		_exit(0);
	execl("/bin/true", "true", (char *)NULL);
	_exit(15);
}

/* How many blocks of `name` do not hold their pattern. */
static int bad_blocks(const char *name, size_t bs, unsigned seed0)
{
	unsigned char *buf = (unsigned char *)malloc(bs);
	int fd = open(name, O_RDONLY), bad = 0, i;
	CHECK(buf && fd >= 0);
	for (i = 0; i < BLOCKS; i++)
		if (pread(fd, buf, bs, (off_t)i * (off_t)bs) != (ssize_t)bs ||
		    !check_pattern(buf, bs, (unsigned)i + seed0))
			bad++;
	close(fd);
	free(buf);
	return bad;
}

/* Whether O_DIRECT requests run on the emulated engine rather than kernel AIO. */
static int direct_on_engine(void)
{
	const char *direct = getenv("AIOLOS_DIRECT"), *engine = getenv("AIOLOS_ENGINE");
	return direct && strcmp(direct, "engine") == 0 && engine && strcmp(engine, "native") != 0;
}

int main(int argc, char **argv)
{
	const char *ways[] = {"exit", "_exit", "exec"};
	unsigned w;

	(void)argv;
	require_our_library();
	{
		int probe = open("probe", O_WRONLY | O_CREAT | O_DIRECT, 0600);
		direct_supported = probe >= 0;
		if (probe >= 0)
			close(probe);
		unlink("probe");
		if (!direct_supported)
			fprintf(stderr, "note: no O_DIRECT here; buffered writes only\n");
	}
	if (argc > 1) {
		/* Never: the program imports io_getevents, as a program that reaps does (one
		 * that does not would be run on kernel contexts: see raw_syscall_reaper.c). */
		struct io_event ev;
		reap((io_context_t)0, &ev, 1);
	}
	for (w = 0; w < sizeof(ways) / sizeof(ways[0]); w++) {
		int status;
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0)
			submit_and_leave(ways[w]);
		if (!wait_up_to(pid, 20, &status)) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			FAIL("%s: the program did not end within 20 s", ways[w]);
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			FAIL("%s: the child failed (status 0x%x)", ways[w], status);
		if (bad_blocks("buffered", BUFFERED_BS, 0) != 0)
			FAIL("%s: %d of %d buffered blocks are not in the file", ways[w],
			     bad_blocks("buffered", BUFFERED_BS, 0), BLOCKS);
		if (direct_supported && (!direct_on_engine() || w == 0) && bad_blocks("direct", DIRECT_BS, 1000) != 0)
			FAIL("%s: %d of %d O_DIRECT blocks are not in the file", ways[w],
			     bad_blocks("direct", DIRECT_BS, 1000), BLOCKS);
		unlink("buffered");
		unlink("direct");
	}
	return 0;
}
