export async function runDemo(_o: {rows:number;clientsPerVersion:number;databaseUrl:string|undefined;json:boolean}): Promise<{failedStatements:number;lostWrites:number}> { throw new Error('todo'); }
