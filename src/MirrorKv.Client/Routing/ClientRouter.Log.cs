using Microsoft.Extensions.Logging;

namespace MirrorKv.Client;

/// <summary>What the router logs: each transition once (with its edge), and the moments around them an operator wants to see.</summary>
internal sealed partial class ClientRouter
{
    [LoggerMessage(Level = LogLevel.Information, Message = "MirrorKv client connected to the primary {EndPoint} at epoch {Epoch} (path {From} -> {To})")]
    private partial void LogConnected(string endPoint, ulong epoch, ClientPath from, ClientPath to);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MirrorKv primary {EndPoint} failed: reads move to the secondary {Secondary} (path {From} -> {To})")]
    private partial void LogFailingOver(string endPoint, string secondary, ClientPath from, ClientPath to);

    [LoggerMessage(Level = LogLevel.Information, Message = "MirrorKv reads go one-sided to the secondary {Secondary} with translated pointers (path {From} -> {To})")]
    private partial void LogReadingSecondary(string secondary, ClientPath from, ClientPath to);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MirrorKv writes follow the promoted node {EndPoint} (epoch {Epoch}) (path {From} -> {To})")]
    private partial void LogPromotionFollowed(string endPoint, ulong epoch, ClientPath from, ClientPath to);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MirrorKv writes go to {EndPoint}, a new incarnation serving as primary at epoch {Epoch} (the client's primary was at epoch {Before}): the pair was restarted, and what it held before is gone (path {From} -> {To})")]
    private partial void LogNewIncarnation(string endPoint, ulong epoch, ulong before, ClientPath from, ClientPath to);

    [LoggerMessage(Level = LogLevel.Information, Message = "MirrorKv primary {EndPoint} serves again at epoch {Epoch} (path {From} -> {To})")]
    private partial void LogPrimaryResumed(string endPoint, ulong epoch, ClientPath from, ClientPath to);

    [LoggerMessage(Level = LogLevel.Debug, Message = "MirrorKv client closed (path {From} -> {To})")]
    private partial void LogClosed(ClientPath from, ClientPath to);

    [LoggerMessage(Level = LogLevel.Error, Message = "MirrorKv client refused the transition {From} -> {To} (adopting {Adopted}): not an edge of its state machine")]
    private partial void LogTransitionRefused(ClientPath from, ClientPath to, string adopted);

    [LoggerMessage(Level = LogLevel.Error, Message = "A handler of the MirrorKv client's route change {Change} threw")]
    private partial void LogHandlerFailed(string change, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "MirrorKv pointer table rewritten from the secondary's translation: {Pointers} pointers, {Deltas} distinct slab deltas")]
    private partial void LogTableRewritten(long pointers, int deltas);

    [LoggerMessage(Level = LogLevel.Information, Message = "MirrorKv pair protected again: the primary {EndPoint} (epoch {Epoch}) has the in-sync secondary {Secondary}, {Seconds:F1} s after this client saw the failover")]
    private partial void LogProtectedAgain(string endPoint, ulong epoch, string secondary, double seconds);
}
