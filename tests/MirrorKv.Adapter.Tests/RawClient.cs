using System.Net;
using System.Text;
using MirrorKv.Client;
using MirrorKv.Memory;
using MirrorKv.Protocol;

namespace MirrorKv.Adapter.Tests;

/// <summary>A protocol-level client for tests that need to send what MirrorKvClient never would.</summary>
internal sealed class RawClient(NodeChannel channel)
{
    public static async Task<RawClient> ConnectAsync(PairFixture pair, IPEndPoint? node = null) =>
        await ConnectAsync(new PairFixture.Handle(pair.Network), node ?? pair.Primary.EndPoint);

    public static async Task<RawClient> ConnectAsync(PairFixture.Handle network, IPEndPoint node) =>
        new(await NodeChannel.ConnectAsync(network.Network.CreateTransport(PairFixture.ClientAddress), node, new NodeChannelOptions(null, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2)), _ => { }, CancellationToken.None));

    public async Task<(WireStatus Status, string Message)> LookupAsync(string key)
    {
        PendingOperation op = channel.Rent();
        try
        {
            channel.PostKv(op, Opcode.Lookup, 0, default, Encoding.UTF8.GetBytes(key), default, flush: true);
            await op.AsValueTask();
            return (op.Status, op.Status == WireStatus.Ok ? "" : ErrorText.Read(op.Payload));
        }
        finally
        {
            channel.Return(op);
        }
    }

    public Task<(WireStatus Status, string Message)> WriteAsync(ulong epoch, string key, string value) => KvAsync(Opcode.Write, epoch, key, value);

    /// <summary>A WRITE, UPDATE, DELETE or LOOKUP (the last two with an empty value).</summary>
    public async Task<(WireStatus Status, string Message)> KvAsync(Opcode opcode, ulong epoch, string key, string value)
    {
        PendingOperation op = channel.Rent();
        try
        {
            channel.PostKv(op, opcode, epoch, default, Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(value), flush: true);
            await op.AsValueTask();
            return (op.Status, op.Status == WireStatus.Ok ? "" : ErrorText.Read(op.Payload));
        }
        finally
        {
            channel.Return(op);
        }
    }

    public async Task<(WireStatus Status, byte[] Payload)> TranslationAsync(uint primaryRKey)
    {
        PendingOperation op = channel.Rent();
        try
        {
            channel.PostTranslation(op, primaryRKey);
            await op.AsValueTask();
            return (op.Status, op.Payload.ToArray());
        }
        finally
        {
            channel.Return(op);
        }
    }

    public async Task<(WireStatus Status, byte[] Payload)> ReadAsync(RemotePointer pointer, Opcode opcode = Opcode.Read)
    {
        PendingOperation op = channel.Rent();
        try
        {
            channel.PostRead(op, opcode, pointer, flush: true);
            await op.AsValueTask();
            return (op.Status, op.Payload.ToArray());
        }
        finally
        {
            channel.Return(op);
        }
    }
}
