using Microsoft.Extensions.Logging;

namespace MirrorKv.Client;

/// <summary>What the client logs: the moments an operator wants to see in an application's log.</summary>
public sealed partial class MirrorKvClient
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "MirrorKv primary {EndPoint} failed: reads move to the secondary {Secondary}")]
    private partial void LogFailingOver(string endPoint, string secondary);

    [LoggerMessage(Level = LogLevel.Information, Message = "MirrorKv pointer table rewritten from the secondary's translation: {Pointers} pointers, {Deltas} distinct slab deltas")]
    private partial void LogTableRewritten(long pointers, int deltas);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MirrorKv writes follow the promoted node {EndPoint} (epoch {Epoch})")]
    private partial void LogPromotionFollowed(string endPoint, ulong epoch);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MirrorKv writes go to {EndPoint}, a new incarnation serving as primary at epoch {Epoch} (the client's primary was at epoch {Before}): the pair was restarted, and what it held before is gone")]
    private partial void LogNewIncarnation(string endPoint, ulong epoch, ulong before);

    [LoggerMessage(Level = LogLevel.Information, Message = "MirrorKv primary {EndPoint} serves again at epoch {Epoch}")]
    private partial void LogPrimaryResumed(string endPoint, ulong epoch);

    [LoggerMessage(Level = LogLevel.Information, Message = "MirrorKv pair protected again: the primary {EndPoint} (epoch {Epoch}) has the in-sync secondary {Secondary}, {Seconds:F1} s after this client saw the failover")]
    private partial void LogProtectedAgain(string endPoint, ulong epoch, string secondary, double seconds);
}
