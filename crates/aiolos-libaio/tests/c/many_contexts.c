/* DESC: a process sets up 60,000 contexts with RLIMIT_NOFILE at 4096, as it can with kernel AIO: a context costs no descriptor and no thread of its own, and every one works (emulated engines; on native it would take the machine's shared fs.aio-nr). */
#include "common.h"
#include <sys/resource.h>

#define CONTEXTS 60000

static int count_fds(void)
{
	int n = 0, fd;
	for (fd = 0; fd < 4096; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

static int count_threads(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int n = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

static void read_once(io_context_t ctx, int fd)
{
	static char buf[512];
	struct iocb cb, *ptr = &cb;
	struct io_event ev;
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	EXPECT_RET(io_submit(ctx, 1, &ptr), 1);
	reap(ctx, &ev, 1);
	CHECK(ev.obj == &cb && (long)ev.res == (long)sizeof(buf));
}

int main(void)
{
	struct rlimit lim = {4096, 4096};
	io_context_t *ctxs;
	const char *engine = getenv("AIOLOS_ENGINE");
	int fd, i, fds_before, fds, threads;

	require_our_library();
	if (!engine || strcmp(engine, "native") == 0)
		SKIP("on kernel AIO 60,000 contexts would take the machine's shared fs.aio-nr");
	CHECK(setrlimit(RLIMIT_NOFILE, &lim) == 0);
	fd = scratch_file("data", 4096, 0);
	ctxs = (io_context_t *)calloc(CONTEXTS, sizeof(*ctxs));
	CHECK(ctxs != NULL);
	/* The first context starts the engine; count from there. */
	EXPECT_RET(io_setup(1, &ctxs[0]), 0);
	read_once(ctxs[0], fd);
	fds_before = count_fds();
	for (i = 1; i < CONTEXTS; i++) {
		int r = io_setup(1, &ctxs[i]);
		if (r != 0)
			FAIL("io_setup of context %d of %d: %s (%d descriptors open, %d threads)", i + 1,
			     CONTEXTS, strerror(-r), count_fds(), count_threads());
	}
	fds = count_fds();
	threads = count_threads();
	if (fds > fds_before)
		FAIL("%d contexts took %d descriptors", CONTEXTS - 1, fds - fds_before);
	if (threads > 64)
		FAIL("%d contexts run %d threads", CONTEXTS, threads);
	/* Every context is a context of its own. */
	for (i = 0; i < CONTEXTS; i += 997)
		read_once(ctxs[i], fd);
	read_once(ctxs[CONTEXTS - 1], fd);
	for (i = 0; i < CONTEXTS; i++)
		if (io_destroy(ctxs[i]) != 0)
			FAIL("io_destroy of context %d failed", i);
	/* The ids and memory came back: a new context works. */
	ctxs[0] = NULL;
	EXPECT_RET(io_setup(1, &ctxs[0]), 0);
	read_once(ctxs[0], fd);
	EXPECT_RET(io_destroy(ctxs[0]), 0);
	free(ctxs);
	return 0;
}
