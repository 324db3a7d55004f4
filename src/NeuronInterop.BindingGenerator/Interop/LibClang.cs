using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NeuronInterop.BindingGenerator.Interop;

// The small part of the libclang C API (clang-c/Index.h) that the generator uses, declared by
// hand. Handles (CXIndex, CXTranslationUnit, CXDiagnostic) are plain pointers; CXString,
// CXCursor, CXType, CXSourceLocation, CXSourceRange and CXToken are blittable structs passed
// by value exactly as in the C API.

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct CXString
{
    public void* Data;
    public uint PrivateFlags;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct CXCursor
{
    public CXCursorKind Kind;
    public int XData;
    public void* Data0;
    public void* Data1;
    public void* Data2;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct CXType
{
    public CXTypeKind Kind;
    public void* Data0;
    public void* Data1;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct CXSourceLocation
{
    public void* PtrData0;
    public void* PtrData1;
    public uint IntData;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct CXSourceRange
{
    public void* PtrData0;
    public void* PtrData1;
    public uint BeginIntData;
    public uint EndIntData;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct CXToken
{
    public uint IntData0;
    public uint IntData1;
    public uint IntData2;
    public uint IntData3;
    public void* PtrData;
}

internal enum CXCursorKind
{
    StructDecl = 2,
    UnionDecl = 3,
    EnumDecl = 5,
    FieldDecl = 6,
    EnumConstantDecl = 7,
    FunctionDecl = 8,
    VarDecl = 9,
    ParmDecl = 10,
    TypedefDecl = 20,
    MacroDefinition = 501,
}

internal enum CXTypeKind
{
    Invalid = 0,
    Unexposed = 1,
    Void = 2,
    Bool = 3,
    Char_U = 4,
    UChar = 5,
    Char16 = 6,
    Char32 = 7,
    UShort = 8,
    UInt = 9,
    ULong = 10,
    ULongLong = 11,
    UInt128 = 12,
    Char_S = 13,
    SChar = 14,
    WChar = 15,
    Short = 16,
    Int = 17,
    Long = 18,
    LongLong = 19,
    Int128 = 20,
    Float = 21,
    Double = 22,
    LongDouble = 23,
    Pointer = 101,
    Record = 105,
    Enum = 106,
    Typedef = 107,
    FunctionNoProto = 110,
    FunctionProto = 111,
    ConstantArray = 112,
    IncompleteArray = 114,
    Elaborated = 119,
}

internal enum CXChildVisitResult
{
    Break = 0,
    Continue = 1,
    Recurse = 2,
}

internal enum CXDiagnosticSeverity
{
    Ignored = 0,
    Note = 1,
    Warning = 2,
    Error = 3,
    Fatal = 4,
}

internal enum CXTokenKind
{
    Punctuation = 0,
    Keyword = 1,
    Identifier = 2,
    Literal = 3,
    Comment = 4,
}

internal enum CXVisibilityKind
{
    Invalid = 0,
    Hidden = 1,
    Protected = 2,
    Default = 3,
}

internal enum CXStorageClass
{
    Invalid = 0,
    None = 1,
    Extern = 2,
    Static = 3,
}

[Flags]
internal enum CXTranslationUnitFlags : uint
{
    None = 0x0,
    DetailedPreprocessingRecord = 0x01,
    SkipFunctionBodies = 0x40,
}

internal static unsafe partial class LibClang
{
    private const string Library = "libclang";

    // Index and translation unit.
    [LibraryImport(Library)] public static partial void* clang_createIndex(int excludeDeclarationsFromPch, int displayDiagnostics);
    [LibraryImport(Library)] public static partial void clang_disposeIndex(void* index);
    [LibraryImport(Library)]
    public static partial int clang_parseTranslationUnit2(void* index, byte* sourceFilename, byte** commandLineArgs,
        int numCommandLineArgs, void* unsavedFiles, uint numUnsavedFiles, CXTranslationUnitFlags options, void** translationUnit);
    [LibraryImport(Library)] public static partial void clang_disposeTranslationUnit(void* translationUnit);
    [LibraryImport(Library)] public static partial CXCursor clang_getTranslationUnitCursor(void* translationUnit);

    // Diagnostics.
    [LibraryImport(Library)] public static partial uint clang_getNumDiagnostics(void* translationUnit);
    [LibraryImport(Library)] public static partial void* clang_getDiagnostic(void* translationUnit, uint index);
    [LibraryImport(Library)] public static partial CXDiagnosticSeverity clang_getDiagnosticSeverity(void* diagnostic);
    [LibraryImport(Library)] public static partial CXString clang_formatDiagnostic(void* diagnostic, uint options);
    [LibraryImport(Library)] public static partial uint clang_defaultDiagnosticDisplayOptions();
    [LibraryImport(Library)] public static partial void clang_disposeDiagnostic(void* diagnostic);

    // Strings.
    [LibraryImport(Library)] public static partial byte* clang_getCString(CXString value);
    [LibraryImport(Library)] public static partial void clang_disposeString(CXString value);

    // Cursors.
    [LibraryImport(Library)]
    public static partial uint clang_visitChildren(CXCursor parent,
        delegate* unmanaged[Cdecl]<CXCursor, CXCursor, void*, CXChildVisitResult> visitor, void* clientData);
    [LibraryImport(Library)] public static partial int clang_Cursor_isNull(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXString clang_getCursorUSR(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXString clang_getFileName(void* file);
    [LibraryImport(Library)] public static partial CXString clang_getCursorSpelling(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXSourceLocation clang_getCursorLocation(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXSourceRange clang_getCursorExtent(CXCursor cursor);
    [LibraryImport(Library)] public static partial int clang_Location_isFromMainFile(CXSourceLocation location);
    [LibraryImport(Library)] public static partial void clang_getSpellingLocation(CXSourceLocation location, void** file, uint* line, uint* column, uint* offset);
    [LibraryImport(Library)] public static partial CXCursor clang_getCursorDefinition(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXVisibilityKind clang_getCursorVisibility(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXStorageClass clang_Cursor_getStorageClass(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXString clang_Cursor_getRawCommentText(CXCursor cursor);
    [LibraryImport(Library)] public static partial int clang_Cursor_isAnonymous(CXCursor cursor);
    [LibraryImport(Library)] public static partial int clang_Cursor_isBitField(CXCursor cursor);
    [LibraryImport(Library)] public static partial long clang_Cursor_getOffsetOfField(CXCursor cursor);
    [LibraryImport(Library)] public static partial int clang_Cursor_isMacroFunctionLike(CXCursor cursor);
    [LibraryImport(Library)] public static partial int clang_Cursor_isMacroBuiltin(CXCursor cursor);
    [LibraryImport(Library)] public static partial int clang_Cursor_getNumArguments(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXCursor clang_Cursor_getArgument(CXCursor cursor, uint index);
    [LibraryImport(Library)] public static partial CXType clang_getCursorType(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXType clang_getCursorResultType(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXType clang_getTypedefDeclUnderlyingType(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXType clang_getEnumDeclIntegerType(CXCursor cursor);
    [LibraryImport(Library)] public static partial long clang_getEnumConstantDeclValue(CXCursor cursor);
    [LibraryImport(Library)] public static partial ulong clang_getEnumConstantDeclUnsignedValue(CXCursor cursor);

    // Types.
    [LibraryImport(Library)] public static partial CXString clang_getTypeSpelling(CXType type);
    [LibraryImport(Library)] public static partial CXType clang_getCanonicalType(CXType type);
    [LibraryImport(Library)] public static partial CXType clang_getPointeeType(CXType type);
    [LibraryImport(Library)] public static partial CXType clang_Type_getNamedType(CXType type);
    [LibraryImport(Library)] public static partial CXType clang_getArrayElementType(CXType type);
    [LibraryImport(Library)] public static partial long clang_getArraySize(CXType type);
    [LibraryImport(Library)] public static partial long clang_Type_getSizeOf(CXType type);
    [LibraryImport(Library)] public static partial long clang_Type_getAlignOf(CXType type);
    [LibraryImport(Library)] public static partial CXCursor clang_getTypeDeclaration(CXType type);
    [LibraryImport(Library)] public static partial uint clang_isFunctionTypeVariadic(CXType type);
    [LibraryImport(Library)] public static partial int clang_getNumArgTypes(CXType type);
    [LibraryImport(Library)] public static partial CXType clang_getArgType(CXType type, uint index);
    [LibraryImport(Library)] public static partial CXType clang_getResultType(CXType type);

    // Tokens (for macro bodies).
    [LibraryImport(Library)] public static partial void clang_tokenize(void* translationUnit, CXSourceRange range, CXToken** tokens, uint* numTokens);
    [LibraryImport(Library)] public static partial void clang_disposeTokens(void* translationUnit, CXToken* tokens, uint numTokens);
    [LibraryImport(Library)] public static partial CXTokenKind clang_getTokenKind(CXToken token);
    [LibraryImport(Library)] public static partial CXString clang_getTokenSpelling(void* translationUnit, CXToken token);

    /// <summary>Converts a CXString to a managed string and disposes it.</summary>
    public static string Consume(CXString value)
    {
        try
        {
            byte* text = clang_getCString(value);
            return text == null ? string.Empty : Marshal.PtrToStringUTF8((nint)text) ?? string.Empty;
        }
        finally
        {
            clang_disposeString(value);
        }
    }

    /// <summary>The direct children of a cursor, in source order.</summary>
    public static List<CXCursor> Children(CXCursor parent)
    {
        var collector = new ChildCollector();
        GCHandle handle = GCHandle.Alloc(collector);
        try
        {
            clang_visitChildren(parent, &CollectChild, (void*)GCHandle.ToIntPtr(handle));
        }
        finally
        {
            handle.Free();
        }
        if (collector.Error is not null)
            throw new InvalidOperationException("Visiting the children of a cursor failed.", collector.Error);
        return collector.Children;
    }

    private sealed class ChildCollector
    {
        public List<CXCursor> Children { get; } = new();
        public Exception? Error { get; set; }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static CXChildVisitResult CollectChild(CXCursor cursor, CXCursor parent, void* clientData)
    {
        // An exception must not unwind into native code: record it, stop, and rethrow above.
        var collector = (ChildCollector)GCHandle.FromIntPtr((nint)clientData).Target!;
        try
        {
            collector.Children.Add(cursor);
            return CXChildVisitResult.Continue;
        }
        catch (Exception exception)
        {
            collector.Error = exception;
            return CXChildVisitResult.Break;
        }
    }
}
