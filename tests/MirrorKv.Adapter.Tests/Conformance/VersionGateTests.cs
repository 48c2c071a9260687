using System.Buffers.Binary;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using MirrorKv.Adapter.Tests.Safety;
using MirrorKv.Memory;
using MirrorKv.Protocol;
using MirrorKv.Protocol.Tests;
using MirrorKv.Store;
using MirrorKv.Transport.Tcp;

namespace MirrorKv.Adapter.Tests.Conformance;

/// <summary>
/// docs/protocol.md, "Versions": each request of the table where a 1.0 node answered otherwise than the page
/// says, sent on a 1.1 and on a 1.0 connection to the same nodes, gets the reply opcode and status of its
/// column, and the connection stays open on both.
/// </summary>
public partial class VersionGateTests
{
    private const ulong RequestId = 7;

    /// <summary>For each row of the table (its first cell): where to send it, as what kind of caller, and the frame.</summary>
    private static readonly Dictionary<string, Case> Cases = new()
    {
        ["STATUS with the payload `00 00 00 01 00 00 00 00`"] = new(Target.Primary, PeerKind.Client, _ => Task.FromResult(RawSocket.Frame(Opcode.Status, RequestId, [0, 0, 0, 1, 0, 0, 0, 0]))),
        ["STATUS with no payload"] = new(Target.Primary, PeerKind.Client, _ => Task.FromResult(RawSocket.Frame(Opcode.Status, RequestId, []))),
        ["SLABS with the payload `01 00 00 00 00 00 00 00`, from a peer adapter"] = new(Target.Alone, PeerKind.Peer, _ => Task.FromResult(RawSocket.Frame(Opcode.Slabs, RequestId, [1, 0, 0, 0, 0, 0, 0, 0]))),
        ["DELETE of a present key with value length 1"] = new(Target.Primary, PeerKind.Client, async nodes =>
        {
            await nodes.Primary.Client.SetAsync("gated", "v"u8.ToArray());
            return Kv(Opcode.Delete, "gated", 1);
        }),
        ["LOOKUP of a present key with value length 1"] = new(Target.Primary, PeerKind.Client, _ => Task.FromResult(Kv(Opcode.Lookup, "k1", 1))),
        ["AUTH after the handshake"] = new(Target.Primary, PeerKind.Client, _ => Task.FromResult(RawSocket.Frame(Opcode.Auth, RequestId, new byte[AuthProof.Size]))),
        ["FAILOVER_READ of an address before the primary region"] = new(Target.Secondary, PeerKind.Client, nodes =>
            Task.FromResult(FailoverRead(new RemotePointer(nodes.RKey, nodes.PrimaryBase - 1, 64)))),
        ["FAILOVER_READ whose address + length overflows 64 bits"] = new(Target.Secondary, PeerKind.Client, nodes =>
            Task.FromResult(FailoverRead(new RemotePointer(nodes.RKey, ulong.MaxValue - 16, 64)))),
    };

    private enum Target
    {
        Primary,
        Secondary,

        /// <summary>A primary with no secondary, which takes a raw socket as its peer adapter.</summary>
        Alone,
    }

    [Fact]
    public async Task EachGatedRequest_GetsItsColumnsAnswer_OnA1_1AndOnA1_0Connection()
    {
        IReadOnlyList<string[]> rows = ProtocolDocument.Table("Versions", "request, after the handshake");
        Assert.Equal(Cases.Keys.Order(StringComparer.Ordinal), rows.Select(r => r[0]).Order(StringComparer.Ordinal));

        StoreOptions store = TcpPair.Options.Store;
        await using TcpPair primary = await TcpPair.StartPrimaryAsync();
        await using MirrorKvNode secondary = await MirrorKvNode.StartAsync(
            new NodeOptions { Role = NodeRole.Secondary, ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0), PrimaryEndPoint = primary.EndPoint, Store = store },
            new TcpTransport());
        await Waits.UntilAsync(() => primary.Primary.IsProtected && secondary.IsProtected);
        await primary.Client.SetAsync("k1", "v1"u8.ToArray());
        var nodes = new Nodes(primary, secondary.EndPoint, primary.Primary.Store.Regions[0].RKey, primary.Primary.Store.Regions[0].BaseAddress);

        foreach (string[] row in rows)
        {
            Case c = Cases[row[0]];
            foreach ((ProtocolVersion version, string cell) in new[] { (ProtocolVersion.V1_1, row[1]), (ProtocolVersion.V1_0, row[2]) })
            {
                Match expected = Expected().Match(cell);
                Assert.True(expected.Success, $"\"{row[0]}\": cannot read \"{cell}\" as a reply opcode and a status");
                var opcode = (Opcode)Convert.ToByte(expected.Groups["opcode"].Value, 16);
                var status = (WireStatus)byte.Parse(expected.Groups["status"].Value, System.Globalization.CultureInfo.InvariantCulture);

                // A primary takes one peer adapter at a time: a fresh one for each version.
                await using TcpPair? alone = c.Target == Target.Alone ? await TcpPair.StartPrimaryAsync() : null;
                IPEndPoint endPoint = c.Target switch
                {
                    Target.Primary => primary.EndPoint,
                    Target.Secondary => secondary.EndPoint,
                    _ => alone!.EndPoint,
                };

                await using RawSocket raw = await RawSocket.ConnectAsync(endPoint);
                Answer hello = await Answer.AskAsync(raw, RawSocket.HelloFrame(c.Kind, version: version));
                Assert.Equal((WireStatus.Ok, false), (hello.Status, hello.Closed));
                Assert.Equal(version, ProtocolVersion.FromEncoded(BinaryPrimitives.ReadUInt16LittleEndian(hello.Payload.AsSpan(4))));

                (FrameHeader header, byte[] payload) = await AskAsync(raw, await c.Frame(nodes));
                Assert.True((opcode, status) == (header.Opcode, header.Status),
                    $"\"{row[0]}\" on a {version} connection: docs/protocol.md says 0x{(byte)opcode:x2} {(byte)status}, the node answered 0x{(byte)header.Opcode:x2} {(byte)header.Status} ({ErrorText.Read(payload)})");
                await Answer.AssertOpenAsync(raw);
            }
        }
    }

    /// <summary>Sends a frame and returns its answer, whatever its opcode; frames a peer link gets unasked are skipped.</summary>
    private static async Task<(FrameHeader Header, byte[] Payload)> AskAsync(RawSocket raw, byte[] frame)
    {
        await raw.SendAsync(frame);
        while (true)
        {
            (FrameHeader header, byte[] payload) = await raw.ReceiveAsync(10) ?? throw new InvalidOperationException("the connection closed without an answer");
            if (header.Opcode is not (Opcode.Replicate or Opcode.Heartbeat))
            {
                Assert.Equal(RequestId, header.RequestId);
                return (header, payload);
            }
        }
    }

    private static byte[] Kv(Opcode opcode, string key, int valueLength)
    {
        var request = new KvRequest(0, default, Encoding.UTF8.GetBytes(key), new byte[valueLength]);
        var payload = new byte[request.Size];
        request.Write(payload);
        return RawSocket.Frame(opcode, RequestId, payload);
    }

    private static byte[] FailoverRead(RemotePointer pointer)
    {
        var payload = new byte[ReadRequest.Size];
        ReadRequest.Write(payload, pointer);
        return RawSocket.Frame(Opcode.FailoverRead, RequestId, payload);
    }

    /// <summary>A cell such as <c>`86` 51</c>: the reply opcode in hex, then the status.</summary>
    [GeneratedRegex(@"^`(?<opcode>[0-9a-f]{2})` (?<status>\d+)", RegexOptions.CultureInvariant)]
    private static partial Regex Expected();

    private sealed record Case(Target Target, PeerKind Kind, Func<Nodes, Task<byte[]>> Frame);

    private sealed record Nodes(TcpPair Primary, IPEndPoint Secondary, uint RKey, ulong PrimaryBase);
}
