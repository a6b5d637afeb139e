/**
 * SPDY/3 frames recorded from moby/spdystream's own framer (the library under client-go's
 * SPDY executor and port forwarder), with a small Go program written for the purpose against
 * Debian's packaging of spdystream (a development aid, not kept in the tree). The tests decode them
 * with berth's codec and with the test client's, so neither can drift from what real
 * clients put on the wire.
 *
 * `CLIENT` frames come from one framer in this order (its header compressor's state carries
 * over from frame to frame). `SERVER_VERIFIED` is what berth's encoder produces for the
 * sequence in spdy-frames.test.ts; the same framer read it back as written in the comment.
 */
export const CLIENT = {
  // SYN_STREAM 1 {streamtype: error}: zlib header 78 f9, DICTID e3c6a7c2, sync-flushed
  synError:
    "80030001000000290000000100000000000078f9e3c6a7c26260606004a7b392a2d4c45c6851c29a0a0a6800000000ffff",
  synStdin: "800300010000001700000003000000000000c22e555c92929907000000ffff",
  synStdout: "800300010000001900000005000000000000c22ac5565c92925f5a02000000ffff",
  synResize: "800300010000001800000007000000000000c22e57945a9c59950a000000ffff",
  dataStdin: "00000003000000086563686f2068690a",
  dataResize: "00000007000000197b225769647468223a38302c22486569676874223a32347d0a",
  finStdin: "0000000301000000",
  ping: "800300060000000400000001",
  rstCancel: "80030003000000080000000500000005",
  goAway: "80030007000000080000000000000000",
  // SYN_STREAM 9 {streamtype: error, port: 8080, requestid: 0}, in Go's map order
  synPortForwardError:
    "800300010000002c00000009000000000000022571dcb6b114e41781f39b85818501030303671124d164823213a301000000ffff",
  synReplyEmpty: "800300020000000e000000096260606000000000ffff",
} as const;

/**
 * berth's SYN_REPLY 1, SYN_REPLY 3, SYN_REPLY 5 {x-berth: a\0b}, DATA 3 "hello", DATA 3 FIN,
 * RST_STREAM 1 CANCEL, PING 1, GOAWAY 7. spdystream's framer read it as:
 *   SYN_REPLY id=1 headers=map[]; SYN_REPLY id=3 headers=map[];
 *   SYN_REPLY id=5 headers=map[X-Berth:[a b]]; DATA id=3 "hello"; DATA id=3 flags=1;
 *   RST id=1 status=5; PING id=1; GOAWAY last=7 status=0; then EOF.
 */
export const SERVER_VERIFIED =
  "8003000200000014000000017801000400fbff00000000000000ffff800300020000001200000003000400fbff" +
  "00000000000000ffff800300020000002400000005001600e9ff0000000100000007782d626572746800000003" +
  "610062000000ffff000000030000000568656c6c6f00000003010000008003000300000008000000010000000580" +
  "030006000000040000000180030007000000080000000700000000";
