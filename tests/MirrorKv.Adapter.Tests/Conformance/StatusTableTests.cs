using System.Net;
using System.Text;
using MirrorKv.Adapter.Tests.Safety;
using MirrorKv.Client;
using MirrorKv.Memory;
using MirrorKv.Protocol;
using MirrorKv.Protocol.Tests;
using MirrorKv.Store;
using MirrorKv.Transport.Tcp;

namespace MirrorKv.Adapter.Tests.Conformance;

/// <summary>
/// docs/protocol.md, "Statuses by request", against running nodes: every request a case sends gets a status
/// that its row lists in the column matching what happened to the connection (a reply: it stays open; ERROR:
/// it is closed), and every status the table lists is seen here at least once, or in the test named below.
/// </summary>
public class StatusTableTests
{
    private static readonly IPAddress ThirdAddress = IPAddress.Parse("127.0.0.13");

    /// <summary>Cells whose setup belongs to another test: row label prefix, status, and who sees it.</summary>
    private static readonly (string Row, WireStatus Status, string CoveredBy)[] Elsewhere =
    [
        ("any frame", WireStatus.TooManyConnections, $"{nameof(LimitTests)}.{nameof(LimitTests.MaxConnections_CountsThePeerLink)}"),
        ("WRITE", WireStatus.ReplicationFailed, "LeaseAndHealingTests.StaleSyncWrite_WhenTheLeaseRunsOut_IsAnsweredRetryableNeverOk(Write)"),
        ("UPDATE", WireStatus.ReplicationFailed, "LeaseAndHealingTests.StaleSyncWrite_WhenTheLeaseRunsOut_IsAnsweredRetryableNeverOk(Update)"),
        ("DELETE", WireStatus.ReplicationFailed, "LeaseAndHealingTests.StaleSyncWrite_WhenTheLeaseRunsOut_IsAnsweredRetryableNeverOk(Delete)"),

        // A cluster node needs etcd: MirrorKv.IntegrationTests starts one. UPDATE takes the same slot check as WRITE.
        ("WRITE", WireStatus.Moved, "ClusterProcessTests.NodeGivenAKeyOfAnotherPairsSlot_AnswersMoved_NamingTheOwnerAndTheMapVersion"),
        ("UPDATE", WireStatus.Moved, "ClusterProcessTests.NodeGivenAKeyOfAnotherPairsSlot_AnswersMoved_NamingTheOwnerAndTheMapVersion (WRITE's check)"),
        ("DELETE", WireStatus.Moved, "ClusterProcessTests.NodeGivenAKeyOfAnotherPairsSlot_AnswersMoved_NamingTheOwnerAndTheMapVersion"),
        ("LOOKUP", WireStatus.Moved, "ClusterProcessTests.NodeGivenAKeyOfAnotherPairsSlot_AnswersMoved_NamingTheOwnerAndTheMapVersion"),
        ("GET", WireStatus.Moved, "ClusterProcessTests.NodeGivenAKeyOfAnotherPairsSlot_AnswersMoved_NamingTheOwnerAndTheMapVersion (the client's GetAsync sends GET at a 1.2 or later node)"),
        ("CLUSTER_MAP", WireStatus.Ok, "ClusterProcessTests.NodeGivenAKeyOfAnotherPairsSlot_AnswersMoved_NamingTheOwnerAndTheMapVersion"),
        ("READ_LEASE", WireStatus.Ok, "CoordinatorTakeoverTests.ProtectedSecondary_ServesReadsOnThePrimarysWord_WithoutReadingEtcd (a witness's in-sync record)"),

        // A slot move's requests at a cluster node's primary and secondary, before, during and after a move.
        ("SLOT_EXPORT", WireStatus.Ok, SlotRequests),
        ("SLOT_EXPORT", WireStatus.TooLong, SlotRequests),
        ("SLOT_EXPORT", WireStatus.NotPrimary, SlotRequests),
        ("SLOT_EXPORT", WireStatus.SlotsNotMoving, SlotRequests),
        ("SLOT_EXPORT", WireStatus.MalformedFrame, SlotRequests),
        ("SLOT_IMPORT", WireStatus.Ok, SlotRequests),
        ("SLOT_IMPORT", WireStatus.SlotsNotMoving, SlotRequests),
        ("SLOT_IMPORT", WireStatus.MalformedFrame, SlotRequests),
        ("SLOT_IMPORT", WireStatus.NotPrimary, SlotRequests),
        ("SLOT_RETIRE", WireStatus.Ok, SlotRequests),
        ("SLOT_RETIRE", WireStatus.SlotsNotMoving, SlotRequests),
        ("SLOT_RETIRE", WireStatus.MalformedFrame, SlotRequests),
        ("SLOT_RETIRE", WireStatus.NotPrimary, SlotRequests),

        // The store's refusals and the fence's, through the same calls as WRITE's and DELETE's (StoreEngine.Write and
        // Delete; AckWaiters.FailAll), whose cells this test and LeaseAndHealingTests see.
        ("SLOT_IMPORT", WireStatus.KeyTooLong, "WRITE of a long key (StoreEngine.Write)"),
        ("SLOT_IMPORT", WireStatus.ValueTooLarge, "WRITE of a large value (StoreEngine.Write)"),
        ("SLOT_IMPORT", WireStatus.OutOfMemory, "ClusterMoveFullTargetProcessTests.Move_ToAPairThatFills_Exits3WithTheSettingsToChange_NoStackTrace_NothingLost_OtherSlotsWritable"),
        ("SLOT_IMPORT", WireStatus.ReplicationFailed, "LeaseAndHealingTests.StaleSyncWrite_WhenTheLeaseRunsOut_IsAnsweredRetryableNeverOk (AckWaiters.FailAll)"),
        ("SLOT_RETIRE", WireStatus.ReplicationFailed, "LeaseAndHealingTests.StaleSyncWrite_WhenTheLeaseRunsOut_IsAnsweredRetryableNeverOk (AckWaiters.FailAll)"),
    ];

    private const string SlotRequests = "ClusterMoveProcessTests.SlotRequests_AtANodeWhoseMapDoesNotAllowThem_AreRefusedWithTheReason";

    [Fact]
    public async Task EveryRequest_GetsAStatusItsRowLists_AndEveryListedStatusIsSeen()
    {
        var seen = new Seen();
        await PrimaryAndSecondaryCasesAsync(seen);
        await AuthenticationCasesAsync(seen);
        await PeerConnectionCasesAsync(seen);
        await RejoiningAndStaleEpochCasesAsync(seen);
        await SwitchoverCasesAsync(seen);
        seen.AssertCoversTheTable(Elsewhere);
    }

    private static async Task SwitchoverCasesAsync(Seen seen)
    {
        StoreOptions store = new() { MaxMemory = 16UL << 20, SlabSize = 64 << 10 };
        await using TcpPair primary = await TcpPair.StartPrimaryAsync(TcpPair.Options with { Store = store });
        await using (RawSocket raw = await GreetAsync(primary.EndPoint, WireStatus.Ok, seen))
        {
            seen.Add("SWITCHOVER with no secondary", Opcode.Switchover, await Answer.AskAsync(raw, Switchover(100, 1000)), WireStatus.SwitchoverRefused);
            seen.Add("SWITCHOVER of 7 bytes", Opcode.Switchover, await Answer.AskAsync(raw, RawSocket.Frame(Opcode.Switchover, 101, new byte[7])), WireStatus.MalformedFrame);
        }

        await using MirrorKvNode secondary = await MirrorKvNode.StartAsync(
            new NodeOptions { Role = NodeRole.Secondary, ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0), PrimaryEndPoint = primary.EndPoint, Store = store },
            new TcpTransport());
        await Waits.UntilAsync(() => primary.Primary.IsProtected && secondary.IsProtected);
        await using (RawSocket raw = await GreetAsync(secondary.EndPoint, WireStatus.Ok, seen))
        {
            seen.Add("SWITCHOVER at the secondary", Opcode.Switchover, await Answer.AskAsync(raw, Switchover(102, 1000)), WireStatus.NotPrimary);
        }

        await using (RawSocket raw = await GreetAsync(primary.EndPoint, WireStatus.Ok, seen))
        {
            seen.Add("SWITCHOVER", Opcode.Switchover, await Answer.AskAsync(raw, Switchover(103, 5000)), WireStatus.Ok);
        }

        await Waits.UntilAsync(() => secondary.Role == NodeRole.Primary && secondary.Epoch == 2);
    }

    private static byte[] ReadLease(ulong requestId, ulong epoch, ulong stamp)
    {
        var payload = new byte[ReadLeaseMessages.Size];
        ReadLeaseMessages.Write(payload, epoch, stamp);
        return RawSocket.Frame(Opcode.ReadLease, requestId, payload);
    }

    private static byte[] Switchover(ulong requestId, int timeoutMs)
    {
        var payload = new byte[SwitchoverMessages.RequestSize];
        SwitchoverMessages.WriteRequest(payload, TimeSpan.FromMilliseconds(timeoutMs));
        return RawSocket.Frame(Opcode.Switchover, requestId, payload);
    }

    private static async Task PrimaryAndSecondaryCasesAsync(Seen seen)
    {
        // 1 MiB slabs: a FAILOVER_READ inside one slab can then exceed the smallest reply a caller may ask for.
        StoreOptions store = new() { MaxMemory = 16UL << 20, SlabSize = 1 << 20, FirstChunkSize = 16UL << 20 };
        await using TcpPair primary = await TcpPair.StartPrimaryAsync(TcpPair.Options with { Store = store, MaxFrameSize = 2 << 20 });
        await using MirrorKvNode secondary = await MirrorKvNode.StartAsync(
            new NodeOptions { Role = NodeRole.Secondary, ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0), PrimaryEndPoint = primary.EndPoint, Store = store, MaxFrameSize = 2 << 20 },
            new TcpTransport(2 << 20));
        // The secondary copies the primary's 16 MiB chunk before it is protected: slower than most pairs' start when
        // every test project runs at once, hence the longer wait, with both nodes' state if it runs out.
        await Waits.UntilAsync(() => primary.Primary.IsProtected && secondary.IsProtected, "the pair to be protected", 60,
            () => $"primary: {primary.Primary.DescribeStatus()}; secondary: {secondary.DescribeStatus()}");
        await primary.Client.SetAsync("k1", "v1"u8.ToArray());

        // Any frame.
        await using (RawSocket raw = await RawSocket.ConnectAsync(primary.EndPoint))
        {
            seen.Add("before HELLO: READ", null, await Answer.AskAsync(raw, RawSocket.ReadFrame(1, new RemotePointer(1, 4096, 64))), WireStatus.HandshakeRequired);
        }

        await using (RawSocket raw = await RawSocket.ConnectAsync(primary.EndPoint))
        {
            seen.Add("before HELLO: STATUS", null, await Answer.AskAsync(raw, RawSocket.Frame(Opcode.Status, 1, new byte[8])), WireStatus.HandshakeRequired);
        }

        await using (RawSocket raw = await RawSocket.ConnectAsync(primary.EndPoint))
        {
            (FrameHeader header, byte[] payload) = await raw.ReceiveAsync(10) ?? throw new InvalidOperationException("closed without ERROR");
            Assert.Equal((Opcode.Error, 0UL), (header.Opcode, header.RequestId));
            Assert.Null(await raw.ReceiveAsync(10));
            seen.Add("no HELLO", null, new Answer(header.Status, true, payload), WireStatus.Timeout);
        }

        await using (RawSocket raw = await GreetAsync(primary.EndPoint, WireStatus.Ok, seen))
        {
            byte[] flags = RawSocket.Frame(Opcode.Status, 2, new byte[8]);
            flags[6] = 1;
            seen.Add("flags", null, await Answer.AskAsync(raw, flags), WireStatus.MalformedFrame);
        }

        await using (RawSocket raw = await GreetAsync(primary.EndPoint, WireStatus.Ok, seen))
        {
            seen.Add("a reply sent as a request", null, await Answer.AskAsync(raw, RawSocket.Frame(Opcode.Read | Opcode.ReplyBit, 2, new byte[16])), WireStatus.MalformedFrame);
        }

        await using (RawSocket raw = await GreetAsync(primary.EndPoint, WireStatus.Ok, seen))
        {
            await raw.SendAsync([0xff, 0xff, 0xff, 0x7f, (byte)Opcode.Status, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]);
            (FrameHeader header, byte[] payload) = await raw.ReceiveAsync(10) ?? throw new InvalidOperationException("closed without ERROR");
            Assert.Equal((Opcode.Error, 0UL), (header.Opcode, header.RequestId));
            Assert.Null(await raw.ReceiveAsync(10));
            seen.Add("frame over the maximum", null, new Answer(header.Status, true, payload), WireStatus.FrameTooLarge);
        }

        // HELLO and AUTH at a node without a secret.
        await using (RawSocket raw = await GreetAsync(primary.EndPoint, WireStatus.Ok, seen))
        {
            seen.Add("HELLO again", Opcode.Hello, await Answer.AskAsync(raw, RawSocket.HelloFrame()), WireStatus.HandshakeRequired);
            seen.Add("AUTH after the handshake", Opcode.Auth, await Answer.AskAsync(raw, RawSocket.Frame(Opcode.Auth, 3, new byte[32])), WireStatus.HandshakeRequired);
            await Answer.AssertOpenAsync(raw);
        }

        await using (RawSocket raw = await RawSocket.ConnectAsync(primary.EndPoint))
        {
            seen.Add("HELLO of major version 2", Opcode.Hello, await Answer.AskAsync(raw, RawSocket.HelloFrame(version: new ProtocolVersion(2, 0))), WireStatus.UnsupportedProtocol);
        }

        await using (RawSocket raw = await RawSocket.ConnectAsync(primary.EndPoint))
        {
            byte[] hello = RawSocket.HelloFrame();
            hello[FrameHeader.Size + 7] = 1;
            seen.Add("HELLO with its reserved byte set", Opcode.Hello, await Answer.AskAsync(raw, hello), WireStatus.MalformedFrame);
        }

        await using (RawSocket raw = await RawSocket.ConnectAsync(primary.EndPoint))
        {
            seen.Add("peer HELLO while a secondary is attached", Opcode.Hello, await Answer.AskAsync(raw, RawSocket.HelloFrame(PeerKind.Peer)), WireStatus.NotPrimary);
        }

        await using (RawSocket raw = await RawSocket.ConnectAsync(primary.EndPoint))
        {
            seen.Add("AUTH before HELLO", Opcode.Auth, await Answer.AskAsync(raw, RawSocket.Frame(Opcode.Auth, 1, new byte[32])), WireStatus.HandshakeRequired);
        }

        // READ at the primary.
        RemotePointer k1;
        RegionInfo region;
        await using (RawSocket raw = await GreetAsync(primary.EndPoint, WireStatus.Ok, seen))
        {
            Answer lookup = await Answer.AskAsync(raw, Kv(Opcode.Lookup, 10, "k1"));
            seen.Add("LOOKUP", Opcode.Lookup, lookup, WireStatus.Ok);
            Assert.Equal(WireStatus.Ok, KvReply.TryReadAddressing(lookup.Payload, out k1, out _));
            MemoryRegion chunk = primary.Primary.Store.Regions.Single(r => r.RKey == k1.RKey);
            region = new RegionInfo(k1.RKey, AccessFlags.RemoteRead, chunk.BaseAddress, chunk.Length);
            ulong end = region.BaseAddress + region.Length;
            (string, RemotePointer, WireStatus)[] reads =
            [
                ("the entry", k1, WireStatus.Ok),
                ("unknown rkey", k1 with { RKey = k1.RKey ^ 0x5a5a5a5a }, WireStatus.UnknownRKey),
                ("zero length", k1 with { Length = 0 }, WireStatus.ZeroLength),
                ("before the region", new RemotePointer(k1.RKey, region.BaseAddress - 1, 64), WireStatus.BeforeRegion),
                ("past the end", new RemotePointer(k1.RKey, end - 32, 64), WireStatus.PastEnd),
                ("overflow", new RemotePointer(k1.RKey, ulong.MaxValue - 16, 64), WireStatus.LengthOverflow),
                ("longer than a reply", new RemotePointer(k1.RKey, region.BaseAddress, 8 << 20), WireStatus.TooLong),
            ];
            foreach ((string name, RemotePointer pointer, WireStatus expected) in reads)
            {
                seen.Add($"READ: {name}", Opcode.Read, await Answer.AskAsync(raw, RawSocket.ReadFrame(11, pointer)), expected);
            }

            seen.Add("READ of 8 bytes", Opcode.Read, await Answer.AskAsync(raw, RawSocket.Frame(Opcode.Read, 12, new byte[8])), WireStatus.MalformedFrame);
            seen.Add("FAILOVER_READ at a primary", Opcode.FailoverRead, await Answer.AskAsync(raw, Pointer(Opcode.FailoverRead, 13, k1)), WireStatus.NoTranslation);

            // Two-sided requests at the primary.
            (string, byte[], Opcode, WireStatus)[] kv =
            [
                ("WRITE", Kv(Opcode.Write, 20, "k2", 3), Opcode.Write, WireStatus.Ok),
                ("WRITE garbage", RawSocket.Frame(Opcode.Write, 21, Encoding.ASCII.GetBytes("not a kv request")), Opcode.Write, WireStatus.MalformedFrame),
                ("WRITE of an empty key", Kv(Opcode.Write, 22, "", 3), Opcode.Write, WireStatus.EmptyKey),
                ("WRITE of a long key", Kv(Opcode.Write, 23, new string('k', 1025), 3), Opcode.Write, WireStatus.KeyTooLong),
                ("WRITE of a large value", Kv(Opcode.Write, 24, "k3", primary.Primary.Store.Options.EffectiveMaxValueLength + 1), Opcode.Write, WireStatus.ValueTooLarge),
                ("UPDATE of an absent key", Kv(Opcode.Update, 30, "absent", 3), Opcode.Update, WireStatus.NotFound),
                ("UPDATE", Kv(Opcode.Update, 31, "k2", 4), Opcode.Update, WireStatus.Ok),
                ("UPDATE garbage", RawSocket.Frame(Opcode.Update, 32, new byte[31]), Opcode.Update, WireStatus.MalformedFrame),
                ("UPDATE of an empty key", Kv(Opcode.Update, 33, "", 3), Opcode.Update, WireStatus.EmptyKey),
                ("UPDATE of a long key", Kv(Opcode.Update, 34, new string('k', 1025), 3), Opcode.Update, WireStatus.KeyTooLong),
                ("UPDATE of a large value", Kv(Opcode.Update, 35, "k2", primary.Primary.Store.Options.EffectiveMaxValueLength + 1), Opcode.Update, WireStatus.ValueTooLarge),
                ("DELETE", Kv(Opcode.Delete, 40, "k2"), Opcode.Delete, WireStatus.Ok),
                ("DELETE of an absent key", Kv(Opcode.Delete, 41, "k2"), Opcode.Delete, WireStatus.NotFound),
                ("DELETE of an empty key", Kv(Opcode.Delete, 42, ""), Opcode.Delete, WireStatus.EmptyKey),
                ("DELETE of a long key", Kv(Opcode.Delete, 43, new string('k', 1025)), Opcode.Delete, WireStatus.KeyTooLong),
                ("DELETE with a value", Kv(Opcode.Delete, 44, "k1", 1), Opcode.Delete, WireStatus.MalformedFrame),
                ("LOOKUP of an absent key", Kv(Opcode.Lookup, 50, "absent"), Opcode.Lookup, WireStatus.NotFound),
                ("LOOKUP with a value", Kv(Opcode.Lookup, 51, "k1", 1), Opcode.Lookup, WireStatus.MalformedFrame),
                ("GET", Kv(Opcode.Get, 52, "k1"), Opcode.Get, WireStatus.Ok),
                ("GET of an absent key", Kv(Opcode.Get, 53, "absent"), Opcode.Get, WireStatus.NotFound),
                ("GET with a value", Kv(Opcode.Get, 54, "k1", 1), Opcode.Get, WireStatus.MalformedFrame),
                ("WRITE of a value larger than the smallest frames", Kv(Opcode.Write, 55, "big", 100_000), Opcode.Write, WireStatus.Ok),
                ("REPLICATE from a client", RawSocket.Frame(Opcode.Replicate, 60, new byte[16]), Opcode.Replicate, WireStatus.WriteNotAllowed),
                ("REPLICATE_ACK from a client", RawSocket.Frame(Opcode.ReplicateAck, 61, new byte[16]), Opcode.ReplicateAck, WireStatus.UnknownOpcode),
                ("HEARTBEAT from a client", RawSocket.Frame(Opcode.Heartbeat, 62, new byte[24]), Opcode.Heartbeat, WireStatus.UnknownOpcode),
                ("SLABS from a client", RawSocket.Frame(Opcode.Slabs, 63, new byte[8]), Opcode.Slabs, WireStatus.UnknownOpcode),
                ("READ_LEASE from a client", RawSocket.Frame(Opcode.ReadLease, 64, new byte[16]), Opcode.ReadLease, WireStatus.UnknownOpcode),
                ("STATUS", RawSocket.Frame(Opcode.Status, 70, new byte[8]), Opcode.Status, WireStatus.Ok),
                ("STATUS with a reserved byte set", RawSocket.Frame(Opcode.Status, 71, [0, 0, 0, 1, 0, 0, 0, 0]), Opcode.Status, WireStatus.MalformedFrame),
                ("STATUS without a payload", RawSocket.Frame(Opcode.Status, 72, []), Opcode.Status, WireStatus.MalformedFrame),
                ("CLUSTER_MAP outside a cluster", RawSocket.Frame(Opcode.ClusterMap, 73, new byte[8]), Opcode.ClusterMap, WireStatus.NoCluster),
                ("CLUSTER_MAP of 7 bytes", RawSocket.Frame(Opcode.ClusterMap, 74, new byte[7]), Opcode.ClusterMap, WireStatus.MalformedFrame),
                ("SLOT_EXPORT outside a cluster", RawSocket.Frame(Opcode.SlotExport, 75, new byte[24]), Opcode.SlotExport, WireStatus.NoCluster),
                ("SLOT_IMPORT outside a cluster", RawSocket.Frame(Opcode.SlotImport, 76, new byte[16]), Opcode.SlotImport, WireStatus.NoCluster),
                ("SLOT_RETIRE outside a cluster", RawSocket.Frame(Opcode.SlotRetire, 77, new byte[16]), Opcode.SlotRetire, WireStatus.NoCluster),
                ("unknown opcode 0x55", RawSocket.Frame((Opcode)0x55, 80, new byte[5]), (Opcode)0x55, WireStatus.UnknownOpcode),
                ("ERROR sent to a node", RawSocket.Frame(Opcode.Error, 81, []), Opcode.Error, WireStatus.UnknownOpcode),
            ];
            foreach ((string name, byte[] frame, Opcode opcode, WireStatus expected) in kv)
            {
                seen.Add(name, opcode, await Answer.AskAsync(raw, frame), expected);
            }

            await Answer.AssertOpenAsync(raw);
        }

        await using (RawSocket raw = await GreetAsync(primary.EndPoint, WireStatus.Ok, seen, maxFrameSize: ProtocolLimits.MinMaxFrameSize))
        {
            seen.Add("GET of a value its reply cannot hold", Opcode.Get, await Answer.AskAsync(raw, Kv(Opcode.Get, 56, "big")), WireStatus.TooLong);
        }

        // At the secondary: FAILOVER_READ, TRANSLATION, and writes refused.
        ulong primaryBase = region.BaseAddress, primaryEnd = region.BaseAddress + region.Length, slab = (ulong)store.SlabSize;
        ulong k1Slab = primaryBase + ((k1.Address - primaryBase) / slab * slab);
        await using (RawSocket raw = await GreetAsync(secondary.EndPoint, WireStatus.Ok, seen))
        {
            (string, RemotePointer, WireStatus)[] reads =
            [
                ("the entry", k1, WireStatus.Ok),
                ("unknown rkey", k1 with { RKey = k1.RKey ^ 0x5a5a5a5a }, WireStatus.NoTranslation),
                ("zero length", k1 with { Length = 0 }, WireStatus.ZeroLength),
                ("before the region", new RemotePointer(k1.RKey, primaryBase - 1, 64), WireStatus.BeforeRegion),
                ("overflow", new RemotePointer(k1.RKey, ulong.MaxValue - 16, 64), WireStatus.LengthOverflow),
                ("past the end", new RemotePointer(k1.RKey, primaryEnd - 32, 64), WireStatus.PastEnd),
                ("across a slab boundary", new RemotePointer(k1.RKey, k1Slab + slab - 10, 20), WireStatus.PastEnd),
                ("a slab no record reached", new RemotePointer(k1.RKey, primaryEnd - slab, 64), WireStatus.UnknownSlab),
            ];
            foreach ((string name, RemotePointer pointer, WireStatus expected) in reads)
            {
                seen.Add($"FAILOVER_READ: {name}", Opcode.FailoverRead, await Answer.AskAsync(raw, Pointer(Opcode.FailoverRead, 90, pointer)), expected);
            }

            seen.Add("FAILOVER_READ of 8 bytes", Opcode.FailoverRead, await Answer.AskAsync(raw, RawSocket.Frame(Opcode.FailoverRead, 91, new byte[8])), WireStatus.MalformedFrame);
            seen.Add("TRANSLATION", Opcode.Translation, await Answer.AskAsync(raw, Translation(92, k1.RKey)), WireStatus.Ok);
            seen.Add("TRANSLATION of an unknown rkey", Opcode.Translation, await Answer.AskAsync(raw, Translation(93, k1.RKey ^ 1)), WireStatus.NoTranslation);
            byte[] reserved = Translation(94, k1.RKey);
            reserved[^1] = 1;
            seen.Add("TRANSLATION with its reserved word set", Opcode.Translation, await Answer.AskAsync(raw, reserved), WireStatus.MalformedFrame);
            Answer refused = await Answer.AskAsync(raw, Kv(Opcode.Write, 95, "k9", 1));
            seen.Add("WRITE at the secondary", Opcode.Write, refused, WireStatus.NotPrimary);
            Assert.Contains($"writes go to the primary at {primary.EndPoint}", ErrorText.Read(refused.Payload), StringComparison.Ordinal);
            seen.Add("UPDATE at the secondary", Opcode.Update, await Answer.AskAsync(raw, Kv(Opcode.Update, 96, "k1", 1)), WireStatus.NotPrimary);
            seen.Add("DELETE at the secondary", Opcode.Delete, await Answer.AskAsync(raw, Kv(Opcode.Delete, 97, "k1")), WireStatus.NotPrimary);
        }

        // A caller that accepts only the smallest frames: one slab is longer than its replies can be.
        await using (RawSocket raw = await GreetAsync(secondary.EndPoint, WireStatus.Ok, seen, maxFrameSize: 1000))
        {
            seen.Add("FAILOVER_READ longer than a reply", Opcode.FailoverRead, await Answer.AskAsync(raw, Pointer(Opcode.FailoverRead, 98, new RemotePointer(k1.RKey, k1Slab, 100_000))), WireStatus.TooLong);
        }

        // Last, as it leaves no room: a full store.
        await using (RawSocket raw = await GreetAsync(primary.EndPoint, WireStatus.Ok, seen))
        {
            Answer write = default;
            for (int i = 0; i < 32 && write.Status != WireStatus.OutOfMemory; i++)
            {
                write = await Answer.AskAsync(raw, Kv(Opcode.Write, 100, $"big{i}", 1_000_000));
                Assert.True(write.Status is WireStatus.Ok or WireStatus.OutOfMemory, write.Text);
            }

            seen.Add("WRITE to a full store", Opcode.Write, write, WireStatus.OutOfMemory);
            seen.Add("UPDATE that must relocate in a full store", Opcode.Update, await Answer.AskAsync(raw, Kv(Opcode.Update, 101, "k1", 1_000_000)), WireStatus.OutOfMemory);
        }
    }

    private static async Task AuthenticationCasesAsync(Seen seen)
    {
        byte[] secret = Encoding.UTF8.GetBytes("a secret for the status table");
        await using TcpPair node = await TcpPair.StartPrimaryAsync(TcpPair.Options with { Secret = secret });
        await using (RawSocket raw = await RawSocket.ConnectAsync(node.EndPoint))
        {
            Answer challenge = await Answer.AskAsync(raw, RawSocket.HelloFrame());
            seen.Add("HELLO to a node with a secret", Opcode.Hello, challenge, WireStatus.AuthRequired);
            seen.Add("HELLO again instead of AUTH", Opcode.Hello, await Answer.AskAsync(raw, RawSocket.HelloFrame()), WireStatus.HandshakeRequired);
        }

        await using (RawSocket raw = await RawSocket.ConnectAsync(node.EndPoint))
        {
            Answer challenge = await Answer.AskAsync(raw, RawSocket.HelloFrame());
            seen.Add("AUTH with the right proof", Opcode.Auth, await Answer.AskAsync(raw, Proof(secret, PeerKind.Client, challenge.Payload)), WireStatus.Ok);
            seen.Add("AUTH again", Opcode.Auth, await Answer.AskAsync(raw, Proof(secret, PeerKind.Client, challenge.Payload)), WireStatus.HandshakeRequired);
            await Answer.AssertOpenAsync(raw);
        }

        await using (RawSocket raw = await RawSocket.ConnectAsync(node.EndPoint))
        {
            Answer challenge = await Answer.AskAsync(raw, RawSocket.HelloFrame());
            seen.Add("AUTH with a wrong proof", Opcode.Auth, await Answer.AskAsync(raw, Proof(secret, PeerKind.Peer, challenge.Payload)), WireStatus.AuthFailed);
        }

        // A node that is no longer the primary takes no secondary: refused once the peer has proved the secret.
        await using (RawSocket raw = await RawSocket.ConnectAsync(node.EndPoint))
        {
            Answer challenge = await Answer.AskAsync(raw, RawSocket.HelloFrame());
            Assert.Equal(WireStatus.Ok, (await Answer.AskAsync(raw, Proof(secret, PeerKind.Client, challenge.Payload))).Status);
            seen.Add("WRITE with a newer epoch", Opcode.Write, await Answer.AskAsync(raw, Kv(Opcode.Write, 3, "k", 1, epoch: 99)), WireStatus.NotPrimary);
        }

        await using (RawSocket raw = await RawSocket.ConnectAsync(node.EndPoint))
        {
            Answer challenge = await Answer.AskAsync(raw, RawSocket.HelloFrame(PeerKind.Peer));
            seen.Add("AUTH of a secondary the primary cannot take", Opcode.Auth, await Answer.AskAsync(raw, Proof(secret, PeerKind.Peer, challenge.Payload)), WireStatus.NotPrimary);
        }
    }

    private static async Task PeerConnectionCasesAsync(Seen seen)
    {
        // An empty primary takes a raw socket as its secondary.
        await using TcpPair node = await TcpPair.StartPrimaryAsync();
        await using (RawSocket peer = await GreetAsync(node.EndPoint, WireStatus.Ok, seen, PeerKind.Peer))
        {
            seen.Add("SLABS", Opcode.Slabs, await Answer.AskAsync(peer, RawSocket.Frame(Opcode.Slabs, 1, new byte[8])), WireStatus.Ok);
            seen.Add("SLABS with a reserved byte set", Opcode.Slabs, await Answer.AskAsync(peer, RawSocket.Frame(Opcode.Slabs, 2, [1, 0, 0, 0, 0, 0, 0, 0])), WireStatus.MalformedFrame);
            seen.Add("WRITE from a peer", Opcode.Write, await Answer.AskAsync(peer, Kv(Opcode.Write, 3, "k", 1)), WireStatus.UnknownOpcode);
            seen.Add("UPDATE from a peer", Opcode.Update, await Answer.AskAsync(peer, Kv(Opcode.Update, 4, "k", 1)), WireStatus.UnknownOpcode);
            seen.Add("DELETE from a peer", Opcode.Delete, await Answer.AskAsync(peer, Kv(Opcode.Delete, 5, "k")), WireStatus.UnknownOpcode);
            seen.Add("LOOKUP from a peer", Opcode.Lookup, await Answer.AskAsync(peer, Kv(Opcode.Lookup, 6, "k")), WireStatus.UnknownOpcode);
            seen.Add("GET from a peer", Opcode.Get, await Answer.AskAsync(peer, Kv(Opcode.Get, 6, "k")), WireStatus.UnknownOpcode);
            seen.Add("SLOT_EXPORT from a peer", Opcode.SlotExport, await Answer.AskAsync(peer, RawSocket.Frame(Opcode.SlotExport, 7, new byte[24])), WireStatus.UnknownOpcode);
            seen.Add("SLOT_IMPORT from a peer", Opcode.SlotImport, await Answer.AskAsync(peer, RawSocket.Frame(Opcode.SlotImport, 8, new byte[16])), WireStatus.UnknownOpcode);
            seen.Add("SLOT_RETIRE from a peer", Opcode.SlotRetire, await Answer.AskAsync(peer, RawSocket.Frame(Opcode.SlotRetire, 9, new byte[16])), WireStatus.UnknownOpcode);
            seen.Add("SWITCHOVER from a peer", Opcode.Switchover, await Answer.AskAsync(peer, Switchover(61, 1000)), WireStatus.UnknownOpcode);
            seen.Add("READ_LEASE at a primary without a witness", Opcode.ReadLease, await Answer.AskAsync(peer, ReadLease(62, 1, 7)), WireStatus.NotInSync);
            seen.Add("READ_LEASE of another epoch", Opcode.ReadLease, await Answer.AskAsync(peer, ReadLease(63, 99, 7)), WireStatus.NotInSync);
            seen.Add("READ_LEASE of 8 bytes", Opcode.ReadLease, await Answer.AskAsync(peer, RawSocket.Frame(Opcode.ReadLease, 64, new byte[8])), WireStatus.MalformedFrame);
            seen.Add("HEARTBEAT of 8 bytes from the peer", Opcode.Heartbeat, await Answer.AskAsync(peer, RawSocket.Frame(Opcode.Heartbeat, 7, new byte[8])), WireStatus.MalformedFrame);
        }

        // Once the node has seen that link close it takes another secondary (until then: ERROR 32).
        RawSocket again = await RawSocket.ConnectAsync(node.EndPoint);
        for (int attempt = 0; (await Answer.AskAsync(again, RawSocket.HelloFrame(PeerKind.Peer))).Status != WireStatus.Ok; attempt++)
        {
            Assert.True(attempt < 100, "the node kept refusing a new secondary after the first one's link closed");
            await again.DisposeAsync();
            await Task.Delay(50);
            again = await RawSocket.ConnectAsync(node.EndPoint);
        }

        await using (again)
        {
            seen.Add("REPLICATE_ACK of 8 bytes from the peer", Opcode.ReplicateAck, await Answer.AskAsync(again, RawSocket.Frame(Opcode.ReplicateAck, 8, new byte[8])), WireStatus.MalformedFrame);
        }

        // A request with a newer epoch makes the node fence itself: from then on it is fenced.
        await using (RawSocket raw = await GreetAsync(node.EndPoint, WireStatus.Ok, seen))
        {
            seen.Add("WRITE with a newer epoch", Opcode.Write, await Answer.AskAsync(raw, Kv(Opcode.Write, 9, "k", 1, epoch: 99)), WireStatus.NotPrimary);
            Assert.Equal(NodeRole.Fenced, node.Primary.Role);
            seen.Add("LOOKUP at a fenced node", Opcode.Lookup, await Answer.AskAsync(raw, Kv(Opcode.Lookup, 10, "k")), WireStatus.NotPrimary);
            seen.Add("GET at a fenced node", Opcode.Get, await Answer.AskAsync(raw, Kv(Opcode.Get, 11, "k")), WireStatus.NotPrimary);
        }
    }

    private static async Task RejoiningAndStaleEpochCasesAsync(Seen seen)
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient client = await pair.ConnectClientAsync();
        await client.SetAsync("k", "v"u8.ToArray());
        RemotePointer pointer;
        await using (NodeChannel primary = await ConnectAsync(pair, pair.Primary.EndPoint))
        {
            Answer lookup = await AskAsync(primary, op => primary.PostKv(op, Opcode.Lookup, 0, default, "k"u8, default, flush: true));
            Assert.Equal(WireStatus.Ok, KvReply.TryReadAddressing(lookup.Payload, out pointer, out _));
        }

        // A third node cannot attach while the secondary is there: it stays rejoining and serves nothing it lacks.
        Task<MirrorKvNode> joining = PairFixture.StartSecondaryAsync(pair.Network, ThirdAddress, pair.Primary.EndPoint);
        var third = new IPEndPoint(ThirdAddress, 7400);
        NodeChannel? rejoining = null;
        for (int attempt = 0; rejoining is null; attempt++)
        {
            try
            {
                rejoining = await ConnectAsync(pair, third);
            }
            catch (Exception) when (attempt < 100)
            {
                // Its listener is not up yet.
                await Task.Delay(50);
            }
        }

        await using (rejoining)
        {
            Assert.Equal(NodeRole.Rejoining, rejoining.Hello.Role);
            seen.Add("FAILOVER_READ at a rejoining node", Opcode.FailoverRead, await AskAsync(rejoining, op => rejoining.PostRead(op, Opcode.FailoverRead, pointer, flush: true)), WireStatus.NotPrimary);
            seen.Add("TRANSLATION at a rejoining node", Opcode.Translation, await AskAsync(rejoining, op => rejoining.PostTranslation(op, pointer.RKey)), WireStatus.NotPrimary);
            seen.Add("LOOKUP at a rejoining node", Opcode.Lookup, await AskAsync(rejoining, op => rejoining.PostKv(op, Opcode.Lookup, 0, default, "k"u8, default, flush: true)), WireStatus.NotPrimary);
        }

        // Once it is the secondary and the primary is gone, it is promoted to epoch 2: epoch 1 is stale.
        pair.Network.Crash(PairFixture.SecondaryAddress);
        await using MirrorKvNode promoted = await joining.WaitAsync(TimeSpan.FromSeconds(10));
        await Waits.UntilAsync(() => pair.Primary.IsProtected && promoted.IsProtected);
        pair.Network.Crash(PairFixture.PrimaryAddress);
        await Waits.UntilAsync(() => promoted.Role == NodeRole.Primary);
        await using NodeChannel channel = await ConnectAsync(pair, third);
        foreach (Opcode opcode in new[] { Opcode.Write, Opcode.Update, Opcode.Delete })
        {
            byte[] value = opcode == Opcode.Delete ? [] : [1];
            Answer answer = await AskAsync(channel, op => channel.PostKv(op, opcode, 1, default, "k"u8, value, flush: true));
            seen.Add($"{opcode} with an older epoch", opcode, answer, WireStatus.StaleEpoch);
            Assert.Contains($"request epoch 1, node epoch {promoted.Epoch}", answer.Text, StringComparison.Ordinal);
        }
    }

    /// <summary>Connects and sends HELLO; the reply must have <paramref name="expected"/>.</summary>
    private static async Task<RawSocket> GreetAsync(IPEndPoint node, WireStatus expected, Seen seen, PeerKind kind = PeerKind.Client, uint maxFrameSize = ProtocolLimits.DefaultMaxFrameSize)
    {
        RawSocket raw = await RawSocket.ConnectAsync(node);
        seen.Add("HELLO", Opcode.Hello, await Answer.AskAsync(raw, RawSocket.HelloFrame(kind, maxFrameSize)), expected);
        return raw;
    }

    private static async Task<NodeChannel> ConnectAsync(PairFixture pair, IPEndPoint node) =>
        await NodeChannel.ConnectAsync(pair.Network.CreateTransport(PairFixture.ClientAddress), node, new NodeChannelOptions(null, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2)), _ => { }, CancellationToken.None);

    private static async Task<Answer> AskAsync(NodeChannel channel, Action<PendingOperation> post)
    {
        PendingOperation op = channel.Rent();
        try
        {
            post(op);
            await op.AsValueTask();
            return new Answer(op.Status, !channel.IsHealthy, op.Payload.ToArray());
        }
        finally
        {
            channel.Return(op);
        }
    }

    private static byte[] Kv(Opcode opcode, ulong requestId, string key, int valueLength = 0, ulong epoch = 0)
    {
        var request = new KvRequest(epoch, default, Encoding.UTF8.GetBytes(key), new byte[valueLength]);
        var payload = new byte[request.Size];
        request.Write(payload);
        return RawSocket.Frame(opcode, requestId, payload);
    }

    private static byte[] Pointer(Opcode opcode, ulong requestId, RemotePointer pointer)
    {
        byte[] frame = RawSocket.ReadFrame(requestId, pointer);
        frame[4] = (byte)opcode;
        return frame;
    }

    private static byte[] Translation(ulong requestId, uint rkey)
    {
        var payload = new byte[TranslationMessages.RequestSize];
        TranslationMessages.WriteRequest(payload, rkey);
        return RawSocket.Frame(Opcode.Translation, requestId, payload);
    }

    private static byte[] Proof(byte[] secret, PeerKind kind, byte[] challenge)
    {
        var proof = new byte[AuthProof.Size];
        AuthProof.Compute(secret, kind, challenge, proof);
        return RawSocket.Frame(Opcode.Auth, 2, proof);
    }

    /// <summary>The cells of the table seen so far: row label, status, whether the connection was closed.</summary>
    private sealed class Seen
    {
        private readonly HashSet<(string Row, WireStatus Status, bool Closed)> _cells = [];

        public void Add(string name, Opcode? opcode, Answer answer, WireStatus expected)
        {
            Assert.True(answer.Status == expected, $"{name}: expected {expected}, got {answer.Status} ({answer.Text})");
            (string row, WireStatus[] kept, WireStatus[] closed) = ProtocolDocument.StatusesOf(opcode);
            Assert.True((answer.Closed ? closed : kept).Contains(answer.Status),
                $"{name}: {(answer.Closed ? "ERROR" : "a reply")} with status {(byte)answer.Status}, which the row \"{row}\" does not list there");
            _cells.Add((row, answer.Status, answer.Closed));
        }

        public void AssertCoversTheTable((string Row, WireStatus Status, string CoveredBy)[] elsewhere)
        {
            var missing = new List<string>();
            foreach (string[] row in ProtocolDocument.Table("Statuses by request", "request"))
            {
                foreach ((bool closed, string cell) in new[] { (false, row[1]), (true, row[2]) })
                {
                    foreach (WireStatus status in ProtocolDocument.Statuses(cell))
                    {
                        if (!_cells.Contains((row[0], status, closed)) && !elsewhere.Any(e => row[0].StartsWith(e.Row, StringComparison.Ordinal) && e.Status == status))
                        {
                            missing.Add($"{row[0]}: {(byte)status} in {(closed ? "ERROR" : "a reply")}");
                        }
                    }
                }
            }

            Assert.True(missing.Count == 0, $"listed in docs/protocol.md but never seen: {string.Join("; ", missing)}");
        }
    }
}
