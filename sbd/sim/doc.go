// Package sim is a simulated RockBLOCK: an Iridium 9602/9603 SBD modem that
// speaks the modem's AT dialect byte for byte, with a simulated Iridium
// gateway and Rock7 web service behind it, so a RockBLOCK program can be
// developed without hardware or credits. Where the simulator differs from
// the modem, a program that works here breaks in the field; so these are
// the facts of the modem it relies on (from the Iridium ISU AT command
// reference, Rock7's documentation and real-device logs of open drivers;
// the few marked "unconfirmed" are seen in one weak source only):
//
//   - Serial: 19200 baud 8N1; commands end with CR only. Echo (ATE1) is the
//     command's characters and its CR, no LF.
//   - Framing (ATV1): each information response and the final result are
//     framed as CR LF text CR LF, so "+CSQ:4" then OK is
//     "\r\n+CSQ:4\r\n\r\nOK\r\n". ATV0: information text ends with CR LF,
//     the result is a number and CR (0 OK, 4 ERROR). ATQ1 drops results.
//   - AT+SBDRT answers "+SBDRT:" CR LF followed directly by the MT buffer's
//     text, then the result: a line reader takes the line after "+SBDRT:"
//     as the message (commands.go).
//   - Flow control: &K0 none, &K3 RTS/CTS, &K4 XON/XOFF, &K6 both. The
//     RockBLOCK ships with &K0; AT&F0 restores &K3, and on a 3-wire link
//     (no RTS/CTS wires) the modem then holds its output: Config.ThreeWire
//     (serve.go).
//   - A/ repeats the last command line at once, without CR (V.25ter).
//   - Unsolicited lines: SBDRING on a ring alert with +SBDMTA=1, repeated once
//     about 20 s later if not answered; +CIEV:0,<bars> and +CIEV:1,<service>
//     with +CIER=1; +AREG:<event>,<error> only with +SBDAREG 1..4. While the
//     port is busy (a session, a binary transfer) they wait, the indicators
//     keeping only their latest value; never inside SBDRB's binary block.
//   - SBDWB: READY, then n bytes and a 2-byte checksum (high byte first, the
//     low 16 bits of the sum), result 0 written, 1 timeout after 60 s (no OK
//     follows it), 2 checksum mismatch, 3 bad size (0 or over the limit).
//     SBDRB: length (2 bytes), payload, checksum, directly after the echo;
//     an empty buffer gives 00 00 00 00.
//   - Buffers: one MO and one MT. Starting any session clears MT; success
//     does not clear MO; reading MT does not clear it; SBDD clears.
//   - SBDIX: "+SBDIX: <MO status>, <MOMSN>, <MT status>, <MTMSN>, <MT
//     length>, <MT queued>"; MO status 0..4 is success; 32 no network
//     service (0 bars). MOMSN counts up on success and survives power
//     cycles. A session takes tens of seconds (see Sky for the model).
//   - SBDREG: at most one registration per 3 minutes (else error 36).
//   - -MSSTM: a count of 90 ms frames since the epoch (ERA3, 2025-02-14
//     18:14:17 UTC; ERA2 2014-05-11 14:23:55 UTC) in lowercase hex, or
//     "no network service" until the modem has received the time from the
//     network; once received it stays valid (refreshed at least every 8 h),
//     also without signal (commands.go).
//   - +CSQ waits for a fresh reading (usually under 2 s, up to 10 s while
//     acquiring); +CSQF answers at once with the last one.
//   - Models: 340/270 bytes MO/MT for the 9602/9603 (sbd.Models).
//
// A Modem serves any io.ReadWriter (Serve), an in-memory link (Pipe) or a
// pseudo-terminal that other programs open like a serial device (OpenPTY).
// Config.Sky chooses between the fixed sky of tests (SkyFor(true): set
// signal, session time and fail rate) and a realistic one (RealisticSky).
// Replay plays the modem's side of a trace recorded by rbd --trace (package
// sbd/trace) to a program, to reproduce a field problem on a desk. Handler
// exposes a small HTTP control API shaped like the Rock7 web service, and
// Main is the `rbd simulate` command.
package sim
