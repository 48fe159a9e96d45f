/*
 * The runner of the differential test (tests/differential_c_abi_matches_kernel_aio.rs).
 *
 * Reads a program (one call per line, made by the test's generator) from the file named by
 * argv[1], runs it against whichever libaio.so.1 the dynamic loader gave it (the system
 * library, or ours with AIOLOS_ENGINE=native|uring|threads), and prints a trace: each
 * call's return value, whether errno changed, the events it reaped, and at the end what
 * every request finally returned, hashes of both files and of every buffer area, and the
 * eventfd's count. The test compares the traces of the four libraries and checks each
 * against kernel AIO's contract; this program only runs and reports.
 *
 * The runner also reports, for every request a call accepted, the class the kernel's code
 * gives it: "c" certain (complete when io_submit returns: buffered file I/O, a poll that is
 * ready), "a" asynchronous (O_DIRECT, fsync: done when the kernel's worker is), "p" a poll
 * that can never fire, "w" a poll waiting for the pipe to be written. The class follows from
 * the request alone, never from what the library under test answered.
 *
 * Memory: each iocb K has its own buffer area of AREA bytes with an inaccessible guard page
 * after it, so an oversized length faults at the guard (EFAULT or a short count, as the
 * kernel decides) instead of touching another request's memory. Each iocb also has its own
 * file slot (SLOT bytes at K * SLOT), so no two requests ever touch the same bytes and every
 * result is deterministic whatever the order in which requests run.
 *
 * Calls that would block forever (a wait for more events than can ever arrive) or crash
 * the system library (any io_getevents on a destroyed context: libaio reads the unmapped
 * ring) are not made: the trace says "skip", decided from the runner's own state.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <libaio.h>

#define NIOCB 8
#define AREA (64 * 1024)
#define PAGE 4096
#define SLOT (128 * 1024)
#define FILE_SIZE ((long long)NIOCB * SLOT)
#define MAXIOV 1100
#define MAXOUT 4096
#define NCTX 2
#define ERRNO_MARK 4242

struct aio_ring_header {
	unsigned id, nr, head, tail, magic, compat_features, incompat_features, header_length;
};

/* The kernel's struct iocb, field by field, so the program can set every one of them. */
struct raw_iocb {
	uint64_t data;
	uint32_t key;
	int32_t rw_flags;
	uint16_t opcode;
	int16_t reqprio;
	uint32_t fildes;
	uint64_t buf;
	uint64_t nbytes;
	int64_t offset;
	uint64_t reserved2;
	uint32_t flags;
	uint32_t resfd;
};
_Static_assert(sizeof(struct raw_iocb) == 64, "kernel iocb layout");

/* One accepted request that has not been reaped yet. */
struct pending {
	int k;
	char cls;
};

struct ctx_state {
	io_context_t ctx;
	int live;     /* set up and not destroyed */
	int dangling; /* destroyed: its ring is unmapped */
	int maxevents;
	struct pending out[MAXOUT];
	int nout;
};

static struct ctx_state ctxs[NCTX];
static io_context_t leaked[64];
static int nleaked;
static struct raw_iocb cbs[NIOCB + 1]; /* the last one is never submitted ("fresh") */
static int prepared[NIOCB + 1];
static struct iovec iovs[NIOCB][MAXIOV];
static unsigned char *areas; /* NIOCB areas, each followed by a guard page */
static unsigned char *guard; /* an inaccessible page */
static unsigned char *ro_page; /* a readable, unwritable page of zeros */
static int fd_buf, fd_direct, fd_ro, fd_dir, fd_null, fd_pr, fd_pw, fd_ev, fd_closed;
static int pipe_written;
static long aio_max_nr = 65536;

static unsigned char *area(int k)
{
	return areas + (size_t)k * (AREA + PAGE);
}

static void die(const char *what)
{
	fprintf(stderr, "runner: %s: %s\n", what, strerror(errno));
	exit(2);
}

static unsigned char pattern(long long x, unsigned seed)
{
	return (unsigned char)((x * 131 + (x >> 9) * 7 + seed * 29) & 0xff);
}

static uint64_t fnv(const unsigned char *p, size_t n, uint64_t h)
{
	size_t i;
	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static void make_file(const char *name, int direct_too)
{
	static unsigned char block[SLOT];
	long long off;
	int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		die("open");
	for (off = 0; off < FILE_SIZE; off += SLOT) {
		long long i;
		for (i = 0; i < SLOT; i++)
			block[i] = pattern(off + i, direct_too ? 2 : 1);
		if (pwrite(fd, block, SLOT, off) != SLOT)
			die("pwrite");
	}
	if (fsync(fd) != 0)
		die("fsync");
	close(fd);
}

static void setup_world(void)
{
	int k, p[2];
	size_t len = (size_t)NIOCB * (AREA + PAGE);
	unsigned char *m = mmap(NULL, len + 2 * PAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		die("mmap");
	areas = m;
	for (k = 0; k < NIOCB; k++) {
		long i;
		for (i = 0; i < AREA; i++)
			area(k)[i] = pattern(i, 100 + k);
		if (mprotect(area(k) + AREA, PAGE, PROT_NONE) != 0)
			die("mprotect");
	}
	guard = m + len;
	if (mprotect(guard, PAGE, PROT_NONE) != 0)
		die("mprotect");
	ro_page = m + len + PAGE;
	memset(ro_page, 0, PAGE);
	if (mprotect(ro_page, PAGE, PROT_READ) != 0)
		die("mprotect");

	make_file("buffered.dat", 0);
	make_file("direct.dat", 1);
	fd_buf = open("buffered.dat", O_RDWR);
	fd_direct = open("direct.dat", O_RDWR | O_DIRECT);
	fd_ro = open("buffered.dat", O_RDONLY);
	fd_dir = open(".", O_RDONLY | O_DIRECTORY);
	fd_null = open("/dev/null", O_RDWR);
	if (fd_buf < 0 || fd_direct < 0 || fd_ro < 0 || fd_dir < 0 || fd_null < 0)
		die("open");
	if (pipe(p) != 0)
		die("pipe");
	fd_pr = p[0];
	fd_pw = p[1];
	fd_ev = eventfd(0, EFD_NONBLOCK);
	if (fd_ev < 0)
		die("eventfd");
	/* A number that stays closed: descriptors are allocated lowest first, so one the
	 * library opens later (an engine's eventfd) never takes it. */
	fd_closed = 900;
	close(fd_closed);

	FILE *f = fopen("/proc/sys/fs/aio-max-nr", "r");
	if (f) {
		if (fscanf(f, "%ld", &aio_max_nr) != 1)
			aio_max_nr = 65536;
		fclose(f);
	}
}

/* A descriptor named in a program. */
static int fd_of(const char *s)
{
	if (!strcmp(s, "B")) return fd_buf;
	if (!strcmp(s, "D")) return fd_direct;
	if (!strcmp(s, "R")) return fd_ro;
	if (!strcmp(s, "DIR")) return fd_dir;
	if (!strcmp(s, "NUL")) return fd_null;
	if (!strcmp(s, "PR")) return fd_pr;
	if (!strcmp(s, "PW")) return fd_pw;
	if (!strcmp(s, "E")) return fd_ev;
	if (!strcmp(s, "X")) return fd_closed;
	if (!strcmp(s, "M1")) return -1;
	return atoi(s);
}

/* What the fds of a program are: a regular file or device whose poll is always ready. */
static int always_ready(int fd)
{
	return fd == fd_buf || fd == fd_direct || fd == fd_ro || fd == fd_dir || fd == fd_null;
}

/* The class of an accepted request, from the request alone (see the top of this file). */
static char class_of(int k)
{
	const struct raw_iocb *cb = &cbs[k];
	int fd = (int)cb->fildes;
	switch (cb->opcode) {
	case IO_CMD_PREAD:
	case IO_CMD_PWRITE:
	case IO_CMD_PREADV:
	case IO_CMD_PWRITEV:
		/* Buffered I/O on kernel AIO runs inside io_submit; O_DIRECT does not. */
		if (fd == fd_buf || fd == fd_ro || fd == fd_null || fd == fd_dir)
			return 'c';
		return 'a';
	case IO_CMD_POLL: {
		unsigned events = (unsigned)(cb->buf & 0xffff) | POLLERR | POLLHUP;
		unsigned ready = 0;
		if (always_ready(fd))
			ready = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;
		else if (fd == fd_pw)
			ready = POLLOUT | POLLWRNORM;
		else if (fd == fd_pr && pipe_written)
			ready = POLLIN | POLLRDNORM;
		if (ready & events)
			return 'c';
		if (fd == fd_pr && (events & (POLLIN | POLLRDNORM)))
			return 'w';
		return 'p';
	}
	default:
		/* fsync and fdatasync run on a kernel worker; anything else the kernel refuses. */
		return 'a';
	}
}

static uint64_t num(const char *s)
{
	if (!strcmp(s, "null")) return 0;
	if (!strcmp(s, "wild")) return (uint64_t)(uintptr_t)guard;
	if (!strcmp(s, "kernel")) return 0xffff880000000000ull;
	return strtoull(s, NULL, 0);
}

/* prep K OP FD BUF LEN OFF SEG FLAGS RESFD PRIO RWF RSV2 KEY */
static void prep(char **t, int n)
{
	int k, fd;
	struct raw_iocb *cb;
	if (n != 14) {
		fprintf(stderr, "runner: bad prep line\n");
		exit(2);
	}
	k = atoi(t[1]);
	cb = &cbs[k];
	memset(cb, 0, sizeof(*cb));
	cb->opcode = (uint16_t)strtol(t[2], NULL, 0);
	fd = fd_of(t[3]);
	cb->fildes = (uint32_t)fd;
	cb->data = 0xD000 + (uint64_t)k;
	cb->nbytes = strtoull(t[5], NULL, 0);
	cb->offset = strtoll(t[6], NULL, 0);
	cb->flags = (uint32_t)strtoul(t[8], NULL, 0);
	cb->resfd = (uint32_t)fd_of(t[9]);
	cb->reqprio = (int16_t)strtol(t[10], NULL, 0);
	cb->rw_flags = (int32_t)strtol(t[11], NULL, 0);
	cb->reserved2 = strtoull(t[12], NULL, 0);
	cb->key = (uint32_t)strtoul(t[13], NULL, 0);
	switch (cb->opcode) {
	case IO_CMD_PREAD:
	case IO_CMD_PWRITE:
		if (!strcmp(t[4], "null") || !strcmp(t[4], "wild") || !strcmp(t[4], "kernel"))
			cb->buf = num(t[4]);
		else
			cb->buf = (uint64_t)(uintptr_t)(area(k % NIOCB) + strtoul(t[4], NULL, 0));
		break;
	case IO_CMD_PREADV:
	case IO_CMD_PWRITEV:
		if (!strcmp(t[4], "null") || !strcmp(t[4], "wild") || !strcmp(t[4], "kernel")) {
			cb->buf = num(t[4]);
		} else {
			size_t base = strtoul(t[4], NULL, 0), seg = strtoul(t[7], NULL, 0), i;
			/* A segment that does not fit in the area points at the guard page, so it
			 * faults instead of reaching the next iocb's area. */
			for (i = 0; i < MAXIOV; i++) {
				if (base + (i + 1) * seg <= AREA)
					iovs[k % NIOCB][i].iov_base = area(k % NIOCB) + base + i * seg;
				else
					iovs[k % NIOCB][i].iov_base = guard;
				iovs[k % NIOCB][i].iov_len = seg;
			}
			cb->buf = (uint64_t)(uintptr_t)iovs[k % NIOCB];
		}
		break;
	default:
		cb->buf = num(t[4]);
	}
	prepared[k] = 1;
}

static int ctx_index(const char *s)
{
	return atoi(s);
}

/* The context a program names: 0 and 1 are ours; 2 a wild value (a readable page that is
 * no ring), 3 NULL. */
static io_context_t ctx_value(int c)
{
	if (c == 2)
		return (io_context_t)ro_page;
	if (c == 3)
		return NULL;
	return ctxs[c].ctx;
}

static int iocb_index(const struct iocb *p)
{
	int k;
	for (k = 0; k <= NIOCB; k++)
		if ((const void *)p == (const void *)&cbs[k])
			return k;
	return -1;
}

/* Prints one event and takes its request off the context's pending list. */
static void report_event(int c, const struct io_event *ev)
{
	int k = iocb_index(ev->obj), i;
	printf(" %d:%ld:%ld", k, (long)ev->res, (long)ev->res2);
	if (k >= 0 && (uint64_t)(uintptr_t)ev->data != cbs[k].data)
		printf(":baddata");
	if (c < 0 || c >= NCTX)
		return;
	for (i = 0; i < ctxs[c].nout; i++) {
		if (ctxs[c].out[i].k == k) {
			ctxs[c].out[i] = ctxs[c].out[--ctxs[c].nout];
			return;
		}
	}
	printf(":unexpected");
}

/* Requests of context c that will complete without anything else happening. */
static int sure(int c)
{
	int i, n = 0;
	if (c < 0 || c >= NCTX)
		return 0;
	for (i = 0; i < ctxs[c].nout; i++) {
		char cls = ctxs[c].out[i].cls;
		if (cls == 'c' || cls == 'a' || (cls == 'w' && pipe_written))
			n++;
	}
	return n;
}

#define CALL(ret, expr)                                                                     \
	do {                                                                                \
		errno = ERRNO_MARK;                                                         \
		ret = (expr);                                                               \
		errno_ok = errno == ERRNO_MARK;                                             \
	} while (0)

static int maxevents_of(const char *s)
{
	if (!strcmp(s, "max+1"))
		return (int)(aio_max_nr + 1);
	return (int)strtol(s, NULL, 0);
}

/* setup C N / qinit C N: io_setup or io_queue_init through &ctx[C]. A slot that is live (or
 * destroyed) still holds its old value, so io_setup on it is the "*ctxp not NULL" case;
 * io_queue_init clears it first, which leaks the old context (destroyed at the end). */
static void do_setup(char **t, int qinit)
{
	int c = ctx_index(t[1]), n = maxevents_of(t[2]), ret, errno_ok;
	io_context_t old = ctxs[c].ctx;
	if (qinit)
		CALL(ret, io_queue_init(n, &ctxs[c].ctx));
	else
		CALL(ret, io_setup(n, &ctxs[c].ctx));
	printf("%s %d %d", t[0], ret, errno_ok);
	if (ctxs[c].ctx != old && ctxs[c].live) {
		if (nleaked < 64)
			leaked[nleaked++] = old;
		ctxs[c].live = 0;
		ctxs[c].nout = 0;
	}
	if (ret == 0) {
		ctxs[c].live = 1;
		ctxs[c].dangling = 0;
		ctxs[c].nout = 0;
		ctxs[c].maxevents = n;
	} else if (ctxs[c].ctx != old) {
		ctxs[c].dangling = 0;
	}
}

/* setup_bad N null|ro|wild and qinit_bad: io_setup / io_queue_init through a bad ctxp. */
static void do_setup_bad(char **t, int qinit)
{
	int n = maxevents_of(t[1]), ret, errno_ok;
	io_context_t *p = NULL;
	if (!strcmp(t[2], "ro"))
		p = (io_context_t *)ro_page;
	else if (!strcmp(t[2], "wild"))
		p = (io_context_t *)guard;
	if (qinit)
		CALL(ret, io_queue_init(n, p));
	else
		CALL(ret, io_setup(n, p));
	printf("%s %d %d", t[0], ret, errno_ok);
}

/* submit C NR ARR ITEMS: ARR ok|null|wild; ITEMS comma-separated K, null, wild. */
static void do_submit(char **t)
{
	int c = ctx_index(t[1]), ret, errno_ok, i, n = 0;
	long nr = strtol(t[2], NULL, 0);
	struct iocb *ptrs[64];
	int ks[64];
	char items[256], *save = NULL, *tok;
	struct iocb **arr = ptrs;
	memset(ptrs, 0, sizeof(ptrs));
	snprintf(items, sizeof(items), "%s", t[4]);
	for (tok = strtok_r(items, ",", &save); tok && n < 64; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "null")) {
			ptrs[n] = NULL;
			ks[n] = -1;
		} else if (!strcmp(tok, "wild")) {
			ptrs[n] = (struct iocb *)guard;
			ks[n] = -1;
		} else {
			ks[n] = atoi(tok);
			ptrs[n] = (struct iocb *)&cbs[ks[n]];
		}
		n++;
	}
	if (!strcmp(t[3], "null"))
		arr = NULL;
	else if (!strcmp(t[3], "wild"))
		arr = (struct iocb **)guard;
	CALL(ret, io_submit(ctx_value(c), nr, arr));
	printf("submit %d %d", ret, errno_ok);
	if (ret > 0 && c < NCTX && arr == ptrs) {
		printf(" acc");
		for (i = 0; i < ret && i < n; i++) {
			char cls;
			if (ks[i] < 0) {
				printf(" phantom");
				continue;
			}
			cls = class_of(ks[i]);
			printf(" %d%c", ks[i], cls);
			if (ctxs[c].nout < MAXOUT)
				ctxs[c].out[ctxs[c].nout++] = (struct pending){ks[i], cls};
		}
	}
}

static struct timespec *timeout_of(const char *s, struct timespec *ts, int *blocking)
{
	*blocking = 0;
	if (!strcmp(s, "null")) {
		*blocking = 1;
		return NULL;
	}
	if (!strcmp(s, "wild"))
		return (struct timespec *)guard;
	ts->tv_sec = 0;
	ts->tv_nsec = 0;
	if (!strcmp(s, "short")) {
		ts->tv_nsec = 1000000;
	} else if (!strcmp(s, "long")) {
		ts->tv_sec = 10;
		*blocking = 1;
	} else if (!strcmp(s, "neg")) {
		/* Not validated by the kernel either; the wait it makes is not short (seen
		 * here: no return at all), so the runner treats it as waiting. */
		ts->tv_sec = -1;
		*blocking = 1;
	} else if (!strcmp(s, "badns")) {
		/* Not validated by the kernel: waits 2 s. */
		ts->tv_nsec = 2000000000;
		*blocking = 1;
	}
	return ts;
}

/* getev C MIN NR TMO EVS [MASK] (pgetev with MASK null|empty|full|wild) */
static void do_getevents(char **t, int n, int pget)
{
	int c = ctx_index(t[1]), ret = 0, errno_ok = 1, blocking, i;
	long min_nr = strtol(t[2], NULL, 0), nr = strtol(t[3], NULL, 0);
	struct timespec ts, *tp = timeout_of(t[4], &ts, &blocking);
	static struct io_event evs[MAXOUT];
	struct io_event *ep = strcmp(t[5], "null") ? evs : NULL;
	sigset_t mask, *mp = NULL;
	if (nr > MAXOUT)
		nr = MAXOUT;
	if (c < NCTX && ctxs[c].dangling) {
		/* libaio reads the ring of any context it is given: unmapped after io_destroy. */
		printf("%s skip", t[0]);
		return;
	}
	if (tp == (struct timespec *)guard && c < NCTX && ctxs[c].live) {
		/* libaio reads *timeout itself on a live context (its zero-timeout fast path). */
		printf("%s skip", t[0]);
		return;
	}
	if (blocking && c < NCTX && ctxs[c].live && min_nr <= nr && min_nr > sure(c)) {
		printf("%s skip", t[0]);
		return;
	}
	if (pget && n > 6) {
		if (!strcmp(t[6], "empty")) {
			sigemptyset(&mask);
			mp = &mask;
		} else if (!strcmp(t[6], "full")) {
			sigfillset(&mask);
			mp = &mask;
		} else if (!strcmp(t[6], "wild")) {
			mp = (sigset_t *)guard;
		}
	}
	if (pget)
		CALL(ret, io_pgetevents(ctx_value(c), min_nr, nr, ep, tp, mp));
	else
		CALL(ret, io_getevents(ctx_value(c), min_nr, nr, ep, tp));
	printf("%s %d %d", t[0], ret, errno_ok);
	if (ret > 0 && ep) {
		printf(" ev");
		for (i = 0; i < ret && i < nr; i++)
			report_event(c, &evs[i]);
	}
}

/* cancel C T: T an iocb index, "fresh" (never submitted) or "wild". */
static void do_cancel(char **t)
{
	int c = ctx_index(t[1]), ret, errno_ok;
	struct io_event ev;
	struct iocb *p;
	if (!strcmp(t[2], "wild"))
		p = (struct iocb *)guard;
	else if (!strcmp(t[2], "fresh"))
		p = (struct iocb *)&cbs[NIOCB];
	else
		p = (struct iocb *)&cbs[atoi(t[2])];
	memset(&ev, 0x5a, sizeof(ev));
	CALL(ret, io_cancel(ctx_value(c), p, &ev));
	printf("cancel %d %d", ret, errno_ok);
	/* A cancelled poll completes later (res 0), from a kernel worker. */
	if (ret == -EINPROGRESS && c < NCTX) {
		int i, k = iocb_index(p);
		for (i = 0; i < ctxs[c].nout; i++) {
			if (ctxs[c].out[i].k == k &&
			    (ctxs[c].out[i].cls == 'p' || ctxs[c].out[i].cls == 'w')) {
				ctxs[c].out[i].cls = 'a';
				break;
			}
		}
	}
}

static void do_destroy(char **t, int release)
{
	int c = ctx_index(t[1]), ret, errno_ok;
	if (c < NCTX && ctxs[c].dangling) {
		/* Destroying twice is fine for the kernel; keep it. */
	}
	if (release)
		CALL(ret, io_queue_release(ctx_value(c)));
	else
		CALL(ret, io_destroy(ctx_value(c)));
	printf("%s %d %d", t[0], ret, errno_ok);
	if (ret == 0 && c < NCTX) {
		ctxs[c].live = 0;
		ctxs[c].dangling = 1;
		ctxs[c].nout = 0;
		/* Keep the address: a later io_setup could map its ring there, and the old
		 * handle would then name the new context (on one library and not another).
		 * Fails harmlessly where the address is still mapped. */
		(void)mmap((void *)ctxs[c].ctx, PAGE, PROT_NONE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	}
}

/* ring C: read the header and reap every event from user space, as fio does. */
static void do_ring(char **t)
{
	int c = ctx_index(t[1]);
	struct aio_ring_header *r;
	struct io_event *events;
	unsigned head, tail, nr;
	if (c >= NCTX || !ctxs[c].live) {
		printf("ring skip");
		return;
	}
	r = (struct aio_ring_header *)ctxs[c].ctx;
	nr = r->nr;
	printf("ring magic=%x compat=%u incompat=%u hdr=%u nr_ok=%d", r->magic,
	       r->compat_features, r->incompat_features, r->header_length,
	       nr >= (unsigned)ctxs[c].maxevents);
	if (r->magic != 0xa10a10a1u || nr == 0 || r->incompat_features != 0)
		return;
	events = (struct io_event *)(r + 1);
	head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
	tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
	if (head >= nr || tail >= nr) {
		printf(" badindex");
		return;
	}
	printf(" ev");
	while (head != tail) {
		report_event(c, &events[head]);
		head = (head + 1) % nr;
	}
	__atomic_store_n(&r->head, head, __ATOMIC_RELEASE);
}

/* The end of every program: cancel the polls that can never fire, reap everything else,
 * destroy every context (which waits for what is in flight), then report what is left. */
static void finish(void)
{
	int c, k, i;
	for (c = 0; c < NCTX; c++) {
		struct timespec ts = {10, 0};
		static struct io_event evs[MAXOUT];
		if (!ctxs[c].live)
			continue;
		for (i = 0; i < ctxs[c].nout; i++) {
			char cls = ctxs[c].out[i].cls;
			if (cls == 'p' || (cls == 'w' && !pipe_written)) {
				struct io_event ev;
				(void)io_cancel(ctxs[c].ctx, (struct iocb *)&cbs[ctxs[c].out[i].k], &ev);
				ctxs[c].out[i].cls = 'a';
			}
		}
		printf("final %d ev", c);
		while (ctxs[c].nout > 0) {
			int ret = io_getevents(ctxs[c].ctx, 1, MAXOUT, evs, &ts);
			if (ret <= 0) {
				printf(" stuck:%d:%d", ret, ctxs[c].nout);
				break;
			}
			for (i = 0; i < ret; i++)
				report_event(c, &evs[i]);
		}
		printf("\n");
		printf("final-destroy %d %d\n", c, io_destroy(ctxs[c].ctx));
	}
	for (i = 0; i < nleaked; i++)
		(void)io_destroy(leaked[i]);
	{
		static unsigned char block[SLOT];
		uint64_t hb = 0xcbf29ce484222325ull, hd = hb;
		long long off;
		for (off = 0; off < FILE_SIZE; off += SLOT) {
			ssize_t got = pread(fd_buf, block, SLOT, off);
			hb = fnv(block, got > 0 ? (size_t)got : 0, hb);
		}
		/* The O_DIRECT file through a buffered descriptor. */
		{
			int fd = open("direct.dat", O_RDONLY);
			for (off = 0; off < FILE_SIZE; off += SLOT) {
				ssize_t got = pread(fd, block, SLOT, off);
				hd = fnv(block, got > 0 ? (size_t)got : 0, hd);
			}
			close(fd);
		}
		printf("files %016llx %lld %016llx %lld\n", (unsigned long long)hb,
		       (long long)lseek(fd_buf, 0, SEEK_END), (unsigned long long)hd,
		       (long long)lseek(fd_direct, 0, SEEK_END));
	}
	printf("areas");
	for (k = 0; k < NIOCB; k++)
		printf(" %016llx", (unsigned long long)fnv(area(k), AREA, 0xcbf29ce484222325ull));
	printf("\n");
	{
		uint64_t v = 0;
		if (read(fd_ev, &v, sizeof(v)) != sizeof(v))
			v = 0;
		printf("eventfd %llu\n", (unsigned long long)v);
	}
}

int main(int argc, char **argv)
{
	char line[1024];
	FILE *prog;
	int step = 0;
	Dl_info info;

	if (argc != 2) {
		fprintf(stderr, "usage: runner PROGRAM\n");
		return 2;
	}
	prog = fopen(argv[1], "r");
	if (!prog)
		die("open program");
	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&info, 0, sizeof(info));
	if (dladdr((void *)&io_submit, &info) && info.dli_fname) {
		char real[4096];
		printf("lib %s\n", realpath(info.dli_fname, real) ? real : info.dli_fname);
	}
	setup_world();
	while (fgets(line, sizeof(line), prog)) {
		char *t[32], *save = NULL, *tok;
		int n = 0;
		for (tok = strtok_r(line, " \t\n", &save); tok && n < 32;
		     tok = strtok_r(NULL, " \t\n", &save))
			t[n++] = tok;
		if (n == 0 || t[0][0] == '#')
			continue;
		if (!strcmp(t[0], "prep")) {
			prep(t, n);
			continue;
		}
		printf("%d ", step++);
		if (!strcmp(t[0], "setup"))
			do_setup(t, 0);
		else if (!strcmp(t[0], "qinit"))
			do_setup(t, 1);
		else if (!strcmp(t[0], "setup_bad"))
			do_setup_bad(t, 0);
		else if (!strcmp(t[0], "qinit_bad"))
			do_setup_bad(t, 1);
		else if (!strcmp(t[0], "submit"))
			do_submit(t);
		else if (!strcmp(t[0], "getev"))
			do_getevents(t, n, 0);
		else if (!strcmp(t[0], "pgetev"))
			do_getevents(t, n, 1);
		else if (!strcmp(t[0], "cancel"))
			do_cancel(t);
		else if (!strcmp(t[0], "destroy"))
			do_destroy(t, 0);
		else if (!strcmp(t[0], "qrelease"))
			do_destroy(t, 1);
		else if (!strcmp(t[0], "ring"))
			do_ring(t);
		else if (!strcmp(t[0], "pipewrite")) {
			char b = 'x';
			printf("pipewrite %d", (int)write(fd_pw, &b, 1));
			pipe_written = 1;
		} else {
			fprintf(stderr, "runner: unknown step %s\n", t[0]);
			return 2;
		}
		printf("\n");
	}
	finish();
	return 0;
}
