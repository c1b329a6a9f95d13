// SPDX-License-Identifier: Apache-2.0
/* Bounded SYN generator for the perimeter benchmark: AF_PACKET frames (Ethernet + IPv4 + TCP
 * SYN, valid checksums) from n_src sources starting at src_base, sent with sendmmsg and the
 * qdisc bypassed, until `seconds` pass, max_packets are sent or the rate cap (pps, 0 = none)
 * would be exceeded. Only ever run inside a network namespace the benchmark created.
 * Prints the number of frames sent. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define FLEN 54

static uint16_t csum(const void *p, size_t n, uint32_t sum)
{
	const uint8_t *b = p;
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		sum += (uint32_t)b[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void build(uint8_t *f, const uint8_t *smac, const uint8_t *dmac, uint32_t src, uint32_t dst,
		  uint16_t sport, uint16_t dport)
{
	memset(f, 0, FLEN);
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	f[12] = 0x08;
	uint8_t *ip = f + 14, *tcp = f + 34;
	ip[0] = 0x45;
	ip[3] = 40;
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	uint16_t c = htons(csum(ip, 20, 0));
	memcpy(ip + 10, &c, 2);
	uint16_t sp = htons(sport), dp = htons(dport);
	memcpy(tcp, &sp, 2);
	memcpy(tcp + 2, &dp, 2);
	tcp[4] = (uint8_t)(sport * 7);
	tcp[12] = 0x50;
	tcp[13] = 0x02;
	tcp[14] = 0xfa;
	uint8_t pseudo[12];
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 6;
	pseudo[10] = 0;
	pseudo[11] = 20;
	uint32_t s = 0;
	for (int i = 0; i < 12; i += 2)
		s += (uint32_t)(pseudo[i] << 8 | pseudo[i + 1]);
	c = htons(csum(tcp, 20, s));
	memcpy(tcp + 16, &c, 2);
}

static int parse_mac(const char *s, uint8_t *m)
{
	unsigned v[6];
	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		m[i] = (uint8_t)v[i];
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 10) {
		fprintf(stderr, "usage: perimeter-flood IFNAME DST_MAC DST_IP PORT SRC_BASE N_SRC "
				"SECONDS MAX_PACKETS PPS\n");
		return 2;
	}
	const char *ifname = argv[1];
	uint8_t dmac[6], smac[6];
	struct in_addr dst, base;
	if (parse_mac(argv[2], dmac) || inet_pton(AF_INET, argv[3], &dst) != 1 ||
	    inet_pton(AF_INET, argv[5], &base) != 1) {
		fprintf(stderr, "bad MAC or address\n");
		return 2;
	}
	uint16_t port = (uint16_t)atoi(argv[4]);
	uint32_t n_src = (uint32_t)strtoul(argv[6], NULL, 10);
	double secs = atof(argv[7]);
	unsigned long long max = strtoull(argv[8], NULL, 10), pps = strtoull(argv[9], NULL, 10);
	if (!n_src || secs <= 0 || secs > 60 || !max) {
		fprintf(stderr, "need 1 <= N_SRC, 0 < SECONDS <= 60, MAX_PACKETS >= 1\n");
		return 2;
	}

	int fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		perror("SIOCGIFHWADDR");
		return 1;
	}
	memcpy(smac, ifr.ifr_hwaddr.sa_data, 6);
	int one = 1;
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	struct sockaddr_ll sll = {
	    .sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex(ifname), .sll_halen = 6};
	memcpy(sll.sll_addr, dmac, 6);

	/* A ring of prebuilt frames: 4096 distinct (source, port) pairs. */
	enum { RING = 4096 };
	static uint8_t frames[RING][FLEN];
	for (uint32_t i = 0; i < RING; i++)
		build(frames[i], smac, dmac, htonl(ntohl(base.s_addr) + i % n_src), dst.s_addr,
		      (uint16_t)(20000 + i), port);
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &sll;
		msgs[i].msg_hdr.msg_namelen = sizeof(sll);
		iov[i].iov_len = FLEN;
	}

	double t0 = now_s(), end = t0 + secs;
	unsigned long long sent = 0;
	uint32_t pos = 0;
	while (sent < max) {
		double t = now_s();
		if (t >= end)
			break;
		if (pps && (double)sent > (t - t0) * (double)pps) {
			struct timespec ts = {0, 200000};
			nanosleep(&ts, NULL);
			continue;
		}
		for (int i = 0; i < BATCH; i++)
			iov[i].iov_base = frames[(pos + (uint32_t)i) % RING];
		int r = sendmmsg(fd, msgs, BATCH, 0);
		if (r < 0) {
			if (errno == ENOBUFS || errno == EAGAIN)
				continue;
			perror("sendmmsg");
			break;
		}
		pos = (pos + (uint32_t)r) % RING;
		sent += (unsigned long long)r;
	}
	printf("%llu %.3f\n", sent, now_s() - t0);
	close(fd);
	return 0;
}
