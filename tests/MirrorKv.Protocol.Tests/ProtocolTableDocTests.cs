using System.Buffers.Binary;

namespace MirrorKv.Protocol.Tests;

/// <summary>
/// The tables of docs/protocol.md that the codec alone can check: version negotiation, the status codes and
/// the statuses by request. The node's side of the same tables is checked in MirrorKv.Adapter.Tests/Conformance.
/// </summary>
public class ProtocolTableDocTests
{
    [Fact]
    public void VersionsTable_IsWhatTheCodecNegotiates()
    {
        IReadOnlyList<string[]> rows = ProtocolDocument.Table("Versions", "HELLO version bytes");
        Assert.True(rows.Count >= 5);
        foreach (string[] row in rows)
        {
            byte[] offered = ProtocolDocument.HexBytes(row[0]);
            var version = ProtocolVersion.FromEncoded(BinaryPrimitives.ReadUInt16LittleEndian(offered));
            Assert.Equal((offered[0], offered[1]), (version.Major, version.Minor));

            var hello = new byte[HelloRequest.Size];
            new HelloRequest(PeerKind.Client, 1 << 20) { Version = version }.Write(hello);
            Assert.Equal(offered, hello[4..6]);
            WireStatus decoded = HelloRequest.TryRead(hello, out _);
            if (row[1].Contains("ERROR", StringComparison.Ordinal))
            {
                Assert.Equal(52L, Assert.Single(ProtocolDocument.Numbers(row[1])));
                Assert.Equal(WireStatus.UnsupportedProtocol, decoded);
                Assert.Null(ProtocolVersion.Negotiate(version));
            }
            else
            {
                Assert.Equal(WireStatus.Ok, decoded);
                ProtocolVersion answered = ProtocolVersion.Negotiate(version)!.Value;
                Assert.Equal(ProtocolDocument.HexBytes(row[1]), new[] { answered.Major, answered.Minor });
            }
        }
    }

    [Fact]
    public void Document_IsOfVersion1_6_TheHighestThisCodeSpeaks()
    {
        Assert.StartsWith("# MirrorKv wire protocol, version 1.6\n", ProtocolDocument.Text, StringComparison.Ordinal);
        Assert.Equal(ProtocolVersion.V1_6, ProtocolVersion.Current);
        Assert.Equal((ushort)0x0601, ProtocolVersion.V1_6.Encoded);
        Assert.Equal((ushort)0x0501, ProtocolVersion.V1_5.Encoded);
        Assert.Equal((ushort)0x0401, ProtocolVersion.V1_4.Encoded);
        Assert.Equal((ushort)0x0301, ProtocolVersion.V1_3.Encoded);
        Assert.Equal((ushort)1, ProtocolVersion.V1_0.Encoded);
        Assert.Equal((ushort)0x0101, ProtocolVersion.V1_1.Encoded);
    }

    [Fact]
    public void StatusCodesTable_IsTheWireStatusEnum()
    {
        IReadOnlyList<string[]> rows = ProtocolDocument.Table("Status codes", "code");
        Dictionary<byte, string> documented = rows.ToDictionary(r => byte.Parse(r[0], System.Globalization.CultureInfo.InvariantCulture), r => r[1]);
        Dictionary<byte, string> code = Enum.GetValues<WireStatus>().ToDictionary(s => (byte)s, s => s.ToString());
        Assert.Equal(code.OrderBy(p => p.Key), documented.OrderBy(p => p.Key));
    }

    [Fact]
    public void StatusesByRequest_NameOnlyDefinedStatuses_AndEveryRequestOpcodeHasARow()
    {
        IReadOnlyList<string[]> rows = ProtocolDocument.Table("Statuses by request", "request");
        foreach (string[] row in rows)
        {
            Assert.Equal(3, row.Length);
            foreach (WireStatus status in ProtocolDocument.Statuses(row[1]).Concat(ProtocolDocument.Statuses(row[2])))
            {
                Assert.True(Enum.IsDefined(status), $"{row[0]}: status {(byte)status} is not a WireStatus");
            }
        }

        foreach (Opcode opcode in Enum.GetValues<Opcode>().Where(o => o is not (Opcode.ReplyBit or Opcode.Error)))
        {
            Assert.Single(rows, r => r[0].Contains($"0x{(byte)opcode:x2}", StringComparison.Ordinal));
        }

        // Everything else below 0x80 shares one row; ERROR itself is named in it.
        Assert.Contains("ERROR 0x7F", ProtocolDocument.Row(rows, "any other opcode")[0], StringComparison.Ordinal);
        Assert.Equal([WireStatus.UnknownOpcode], ProtocolDocument.StatusesOf((Opcode)0x55).Kept);
        Assert.Equal(ProtocolDocument.StatusesOf((Opcode)0x55).Row, ProtocolDocument.StatusesOf(Opcode.Error).Row);
    }
}
