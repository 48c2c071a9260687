// The machine's floor under a synchronous replicated write (and a read), with no store in it: a client, a "primary"
// and a "secondary" that only pass fixed-size messages along the path a MirrorKv write takes (client -> primary ->
// secondary -> primary -> client), each process one epoll loop that reads everything ready and sends once per round
// (as MirrorKv's loops and redis's do). What it measures is what this machine's kernel, scheduler and hypervisor
// charge for the hops alone; no store can be faster than its floor on the same machine. bench/floor.sh runs it.
//
//   floor secondary PORT [chain]                      (chain: answer the clients itself, on PORT + 1)
//   floor primary PORT SECONDARY_PORT|0 [SPIN_US]     (0: answer at once, the path of a read)
//   floor client PORT[,PORT...] CONNECTIONS SECONDS [chain]
//                                                     (CONNECTIONS requests in flight, spread over the ports; chain:
//                                                      replies come from the secondary, at the port's + 2)
//
// chain is the path of chain replication (client -> primary -> secondary -> client): one hop fewer than the ack path.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { REQUEST = 128, RECORD = 128, ACK = 8, REPLY = 16, MAXFD = 65536, BUF = 1 << 20 };

static void die(const char *what) { perror(what); exit(1); }

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int listen_on(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 1024) < 0) die("listen");
    return fd;
}

static int connect_to(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    for (int tries = 0; tries < 200; tries++)
    {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) { nodelay(fd); return fd; }
        close(fd);
        usleep(20000);
    }
    die("connect");
    return -1;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0)
    {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (w < 0) return;  // the peer is gone: the run is over
        p += w; n -= (size_t)w;
    }
}

// Bytes received but not yet a whole message, per descriptor.
static size_t pending[MAXFD];

static int epoll_add(int ep, int fd)
{
    struct epoll_event e = { .events = EPOLLIN, .data.fd = fd };
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
}

// Waits for events; a primary that spins polls without sleeping for up to spin_us after its last work.
static int wait_events(int ep, struct epoll_event *ev, int max, int spin_us, double *last_work)
{
    if (spin_us > 0)
    {
        while (now() - *last_work < spin_us / 1e6)
        {
            int n = epoll_wait(ep, ev, max, 0);
            if (n > 0) return n;
        }
    }
    int n = epoll_wait(ep, ev, max, -1);
    return n < 0 && errno == EINTR ? 0 : n;
}

// In chain mode a client's first 4 bytes on the secondary's client port name its worker, and the primary copies the
// worker into the first 4 bytes of each record, so the secondary knows whom to answer.
static int worker_fd[4096];

static int run_secondary(int port, int chain)
{
    int lfd = listen_on(port), cfd = chain ? listen_on(port + 1) : -1, ep = epoll_create1(0);
    static char buf[BUF], reply[REPLY];
    static char partial[MAXFD][RECORD];
    uint64_t applied = 0;
    memset(reply, 'r', sizeof reply);
    epoll_add(ep, lfd);
    if (cfd >= 0) epoll_add(ep, cfd);
    struct epoll_event ev[64];
    for (;;)
    {
        double unused = 0;
        int n = wait_events(ep, ev, 64, 0, &unused);
        for (int i = 0; i < n; i++)
        {
            int fd = ev[i].data.fd;
            if (fd == lfd) { int c = accept(lfd, NULL, NULL); nodelay(c); epoll_add(ep, c); continue; }
            if (fd == cfd)
            {
                int c = accept(cfd, NULL, NULL), w = 0;
                nodelay(c);
                if (recv(c, &w, 4, MSG_WAITALL) != 4 || w < 0 || w >= 4096) die("chain client");
                worker_fd[w] = c;
                continue;
            }
            ssize_t r = recv(fd, buf, BUF, 0);
            if (r <= 0) return 0;
            if (chain)
            {
                // Each whole record names its worker in its first 4 bytes: answer that worker now.
                for (ssize_t k = 0; k < r; k++)
                {
                    partial[fd][pending[fd]++] = buf[k];
                    if (pending[fd] == RECORD)
                    {
                        int w;
                        memcpy(&w, partial[fd], 4);
                        send_all(worker_fd[w], reply, REPLY);
                        pending[fd] = 0;
                    }
                }
                continue;
            }
            pending[fd] += (size_t)r;
            uint64_t records = pending[fd] / RECORD;
            pending[fd] %= RECORD;
            if (records > 0)
            {
                applied += records;
                char ack[ACK];
                memcpy(ack, &applied, ACK);
                send_all(fd, ack, ACK);  // one cumulative ack per round
            }
        }
    }
}

// The primary remembers, in order, which client each replicated record answers.
static int waiting[1 << 20];
static char worker_of[MAXFD][4];
static uint64_t waiting_head, waiting_tail;

static int run_primary(int port, int secondary_port, int spin_us)
{
    int lfd = listen_on(port), ep = epoll_create1(0);
    int sfd = secondary_port > 0 ? connect_to(secondary_port) : -1;
    static char buf[BUF], out[BUF];
    static char reply[REPLY * 4096];
    uint64_t acked = 0;
    size_t out_len = 0;
    epoll_add(ep, lfd);
    if (sfd >= 0) epoll_add(ep, sfd);
    memset(reply, 'r', sizeof reply);
    struct epoll_event ev[256];
    double last_work = now();
    for (;;)
    {
        int n = wait_events(ep, ev, 256, spin_us, &last_work);
        if (n > 0) last_work = now();
        for (int i = 0; i < n; i++)
        {
            int fd = ev[i].data.fd;
            if (fd == lfd) { int c = accept(lfd, NULL, NULL); nodelay(c); epoll_add(ep, c); continue; }
            ssize_t r = recv(fd, buf, BUF, 0);
            if (r <= 0) { if (fd == sfd) return 0; close(fd); continue; }
            if (fd == sfd)
            {
                // Acks are cumulative: only the last whole one of what arrived matters (a split one is kept).
                static char carry[ACK];
                size_t have = pending[fd], total = have + (size_t)r;
                if (total >= ACK)
                {
                    uint64_t upto;
                    size_t last = total / ACK * ACK - ACK;  // offset of the last whole ack in carry + buf
                    if (last >= have) memcpy(&upto, buf + (last - have), ACK);
                    else { char whole[ACK]; memcpy(whole, carry + last, have - last); memcpy(whole + (have - last), buf, ACK - (have - last)); memcpy(&upto, whole, ACK); }
                    for (; acked < upto; acked++) send_all(waiting[waiting_head++ % (1 << 20)], reply, REPLY);
                }
                size_t rest = total % ACK;
                char tail[ACK];
                for (size_t k = 0; k < rest; k++) tail[k] = total - rest + k >= have ? buf[total - rest + k - have] : carry[total - rest + k];
                memcpy(carry, tail, rest);
                pending[fd] = rest;
                continue;
            }
            if (pending[fd] == 0 && r >= 4) memcpy(worker_of[fd], buf, 4);  // one request in flight per connection
            pending[fd] += (size_t)r;
            size_t requests = pending[fd] / REQUEST;
            pending[fd] %= REQUEST;
            if (sfd < 0) { send_all(fd, reply, requests * REPLY); continue; }
            for (size_t k = 0; k < requests; k++)
            {
                waiting[waiting_tail++ % (1 << 20)] = fd;
                memset(out + out_len, 'w', RECORD);
                memcpy(out + out_len, worker_of[fd], 4);  // for a chain: whom the secondary answers
                out_len += RECORD;
            }
        }
        if (out_len > 0) { send_all(sfd, out, out_len); out_len = 0; }  // one send per round to the secondary
    }
}

// CONNECTIONS workers, each with one request in flight; worker w sends its k-th request to port (w + k) % ports, so
// that requests spread evenly over the pairs, as a cluster client's keys do.
static int run_client(char *ports_arg, int connections, double seconds, int chain)
{
    int ports[64], nports = 0;
    for (char *p = strtok(ports_arg, ","); p && nports < 64; p = strtok(NULL, ",")) ports[nports++] = atoi(p);
    int ep = epoll_create1(0);
    int fds[256][64], next[256];
    int owner[MAXFD];
    static char buf[BUF];
    for (int w = 0; w < connections; w++)
        for (int p = 0; p < nports; p++)
        {
            fds[w][p] = connect_to(ports[p]);
            owner[fds[w][p]] = w;
            if (!chain) { epoll_add(ep, fds[w][p]); continue; }
            int back = connect_to(ports[p] + 2), id = w;  // the secondary's client port (its peer port + 1)
            send_all(back, (char *)&id, 4);
            owner[back] = w;
            epoll_add(ep, back);
        }
    usleep(100000);  // every chain connection registered at its secondary before the first request
    uint64_t done = 0, counted = 0;
    double start = now(), measure_from = start + 1.0, end = measure_from + seconds;
    static char reqs[256][REQUEST];
    for (int w = 0; w < connections; w++) { memset(reqs[w], 'q', REQUEST); memcpy(reqs[w], &w, 4); }
    for (int w = 0; w < connections; w++) { next[w] = w % nports; send_all(fds[w][next[w]], reqs[w], REQUEST); }
    struct epoll_event ev[256];
    while (now() < end)
    {
        int n = epoll_wait(ep, ev, 256, 100);
        for (int i = 0; i < n; i++)
        {
            int fd = ev[i].data.fd;
            ssize_t r = recv(fd, buf, BUF, 0);
            if (r <= 0) die("client recv");
            pending[fd] += (size_t)r;
            uint64_t replies = pending[fd] / REPLY;
            pending[fd] %= REPLY;
            for (uint64_t k = 0; k < replies; k++)
            {
                int w = owner[fd];
                done++;
                if (now() >= measure_from) counted++;
                next[w] = (next[w] + 1) % nports;
                send_all(fds[w][next[w]], reqs[w], REQUEST);
            }
        }
    }
    printf("floor ops/s %.0f (connections %d, pairs %d, %.1f s%s)\n", counted / seconds, connections, nports, seconds, chain ? ", chain" : "");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "secondary") == 0) return run_secondary(atoi(argv[2]), argc > 3 && strcmp(argv[3], "chain") == 0);
    if (argc >= 4 && strcmp(argv[1], "primary") == 0) return run_primary(atoi(argv[2]), atoi(argv[3]), argc > 4 ? atoi(argv[4]) : 0);
    if (argc >= 5 && strcmp(argv[1], "client") == 0) return run_client(argv[2], atoi(argv[3]), atof(argv[4]), argc > 5 && strcmp(argv[5], "chain") == 0);
    fprintf(stderr, "usage: floor secondary PORT [chain] | floor primary PORT SECONDARY_PORT|0 [SPIN_US] | floor client PORT[,PORT...] CONNECTIONS SECONDS [chain]\n");
    return 2;
}
